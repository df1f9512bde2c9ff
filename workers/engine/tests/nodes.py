"""Small nodes for engine tests: each does something trivial and counts its executions in ``CALLS``."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np

from nodepacks import sdk
from workers.engine import NodeRegistry

CALLS: Counter[str] = Counter()
_calls_lock = threading.Lock()
_failed_tokens: set[str] = set()


def count(node_type: str) -> None:
    """Count one execution of ``node_type``."""
    with _calls_lock:
        CALLS[node_type] += 1


def reset() -> None:
    """Forget every counted execution and every token FailOnce has seen."""
    CALLS.clear()
    _failed_tokens.clear()


class Const(sdk.Node):
    """An integer constant."""

    id = "test.Const"

    class Inputs(sdk.Inputs):
        value: int = sdk.number(0, min=-1000000, max=1000000)

    class Outputs(sdk.Outputs):
        value: int

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        count(self.id)
        return self.Outputs(value=inputs.value)


class Add(sdk.Node):
    """a + b; each side a widget or a link."""

    id = "test.Add"

    class Inputs(sdk.Inputs):
        a: int = sdk.number(0)
        b: int = sdk.number(0)

    class Outputs(sdk.Outputs):
        total: int

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        count(self.id)
        return self.Outputs(total=inputs.a + inputs.b)


class Concat(sdk.Node):
    """Join two strings with a separator chosen from a list."""

    id = "test.Concat"

    class Inputs(sdk.Inputs):
        a: str = sdk.text("")
        b: str = sdk.text("")
        separator: str = sdk.select(options=["", " ", "-"])

    class Outputs(sdk.Outputs):
        text: str

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        count(self.id)
        return self.Outputs(text=inputs.a + inputs.separator + inputs.b)


class Overlap:
    """How many ``test.Meet`` nodes run at once (the most seen), and a barrier they may wait at."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = 0
        self.most = 0
        self.barrier: threading.Barrier | None = None

    def reset(self, parties: int | None = None) -> None:
        with self.lock:
            self.active = self.most = 0
            self.barrier = threading.Barrier(parties, timeout=30) if parties else None


OVERLAP = Overlap()


class Meet(sdk.Node):
    """Counts how many Meet nodes run at once; with ``OVERLAP.reset(n)`` waits until n of them are running.

    Parallelism is proven by the barrier (it only opens when the branches really run side by side), never by
    wall-clock bounds, which a loaded machine breaks.
    """

    id = "test.Meet"

    class Inputs(sdk.Inputs):
        value: int = sdk.number(0)

    class Outputs(sdk.Outputs):
        value: int

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        count(self.id)
        with OVERLAP.lock:
            OVERLAP.active += 1
            OVERLAP.most = max(OVERLAP.most, OVERLAP.active)
        try:
            if OVERLAP.barrier is not None:
                OVERLAP.barrier.wait()
            else:
                time.sleep(0.05)
        finally:
            with OVERLAP.lock:
                OVERLAP.active -= 1
        return self.Outputs(value=inputs.value)


class Sleep(sdk.Node):
    """Wait, then pass the value on."""

    id = "test.Sleep"

    class Inputs(sdk.Inputs):
        seconds: float = sdk.number(0.1, min=0, max=5)
        value: int = sdk.number(0)

    class Outputs(sdk.Outputs):
        value: int

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        count(self.id)
        time.sleep(inputs.seconds)
        return self.Outputs(value=inputs.value)


class FailOnce(sdk.Node):
    """Fail the first time a token is seen, pass the value on afterwards."""

    id = "test.FailOnce"

    class Inputs(sdk.Inputs):
        token: str = sdk.text("t")
        value: int = sdk.number(0)

    class Outputs(sdk.Outputs):
        value: int

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        count(self.id)
        with _calls_lock:
            first = inputs.token not in _failed_tokens
            _failed_tokens.add(inputs.token)
        if first:
            raise sdk.NodeError(f"first attempt for {inputs.token} fails")
        return self.Outputs(value=inputs.value)


class Crash(sdk.Node):
    """Raise an unexpected exception."""

    id = "test.Crash"

    class Inputs(sdk.Inputs):
        value: int = sdk.number(0)

    class Outputs(sdk.Outputs):
        value: int

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        count(self.id)
        return self.Outputs(value=1 // inputs.value)


class WrongOutput(sdk.Node):
    """Declares an IMAGE but returns a string (built without validation, as a buggy node might)."""

    id = "test.WrongOutput"

    class Outputs(sdk.Outputs):
        image: sdk.Image

    def execute(self, inputs: sdk.Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs.model_construct(image="not an image")  # type: ignore[arg-type]


class Random(sdk.Node):
    """A random integer: a different value every run."""

    id = "test.Random"
    non_deterministic = True

    class Outputs(sdk.Outputs):
        value: int

    def execute(self, inputs: sdk.Inputs, ctx: sdk.Context) -> Outputs:
        count(self.id)
        return self.Outputs(value=random.randrange(1_000_000_000))


class ReadFile(sdk.Node):
    """The text of an uploaded file; its content hash is the fingerprint."""

    id = "test.ReadFile"

    class Inputs(sdk.Inputs):
        file: str = sdk.upload(accept="file")

    class Outputs(sdk.Outputs):
        text: str

    @classmethod
    def fingerprint(cls, inputs: Mapping[str, Any], files: sdk.FileProvider) -> str | None:
        return files.sha256(inputs["file"])

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        count(self.id)
        with ctx.files.open(inputs.file) as handle:
            return self.Outputs(text=handle.read().decode())


class Steps(sdk.Node):
    """Report progress ``steps`` times (with a preview on the first step), checking cancellation each time."""

    id = "test.Steps"

    class Inputs(sdk.Inputs):
        steps: int = sdk.number(5, min=1, max=1000)
        delay: float = sdk.number(0.0, min=0, max=1)

    class Outputs(sdk.Outputs):
        steps: int

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        count(self.id)
        for step in range(1, inputs.steps + 1):
            preview = np.zeros((2, 2, 3), dtype=np.float32) if step == 1 else None
            ctx.progress(step, inputs.steps, preview=preview)
            time.sleep(inputs.delay)
        return self.Outputs(steps=inputs.steps)


class MakeImage(sdk.Node):
    """A black image batch."""

    id = "test.MakeImage"

    class Inputs(sdk.Inputs):
        size: int = sdk.number(4, min=1, max=64)

    class Outputs(sdk.Outputs):
        image: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        count(self.id)
        return self.Outputs(image=np.zeros((1, inputs.size, inputs.size, 3), dtype=np.float32))


class Brightness(sdk.Node):
    """Shift an image's brightness; the image comes only by link, the mode only from its widget."""

    id = "test.Brightness"

    class Inputs(sdk.Inputs):
        image: sdk.Image = sdk.link()
        amount: float = sdk.number(0.1, min=-1, max=1)
        mode: str = sdk.select(options=["add", "multiply"], mode="widget")

    class Outputs(sdk.Outputs):
        image: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        count(self.id)
        if inputs.mode == "add":
            return self.Outputs(image=inputs.image + inputs.amount)
        return self.Outputs(image=inputs.image * inputs.amount)


class Number(sdk.Node):
    """Accepts an INT or a FLOAT."""

    id = "test.Number"

    class Inputs(sdk.Inputs):
        x: int | float = sdk.link()

    class Outputs(sdk.Outputs):
        x: float

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        count(self.id)
        return self.Outputs(x=float(inputs.x))


class PickUpload(sdk.Node):
    """Choose one of the uploaded images (options supplied by the server at run time)."""

    id = "test.PickUpload"

    class Inputs(sdk.Inputs):
        name: str = sdk.select("a.png", source="uploads.image")

    class Outputs(sdk.Outputs):
        name: str

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        count(self.id)
        return self.Outputs(name=inputs.name)


class Show(sdk.Node):
    """An output node: shows its value as text."""

    id = "test.Show"
    output_node = True

    class Inputs(sdk.Inputs):
        value: sdk.AnyValue = sdk.link()

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> sdk.Result:
        count(self.id)
        return sdk.Result(ui=sdk.UI(text=[str(inputs.value)]))


pack = sdk.Pack(
    name="enginetest",
    version="1.0.0",
    nodes=[
        Const,
        Add,
        Concat,
        Sleep,
        Meet,
        FailOnce,
        Crash,
        WrongOutput,
        Random,
        ReadFile,
        Steps,
        MakeImage,
        Brightness,
        Number,
        PickUpload,
        Show,
    ],
)

registry = NodeRegistry([pack])
