"""A node pack used only by the runs tests: slow, failing and flaky nodes, and a cheap counter for chains."""

from __future__ import annotations

import threading
import time

import numpy as np

from nodepacks import sdk

# Tests flip this to make Flaky fail or succeed.
flaky_state = {"fail": True}
executions: dict[str, int] = {}
_lock = threading.Lock()


def _count(node_type: str) -> None:
    with _lock:
        executions[node_type] = executions.get(node_type, 0) + 1


class Inc(sdk.Node):
    """Add one to a number. Returns INT."""

    id = "test.Inc"
    category = "test"

    class Inputs(sdk.Inputs):
        value: int = sdk.number(0)

    class Outputs(sdk.Outputs):
        value: int

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        _count(self.id)
        return self.Outputs(value=inputs.value + 1)


class Show(sdk.Node):
    """Show a number as text (an output node)."""

    id = "test.Show"
    category = "test"
    output_node = True

    class Inputs(sdk.Inputs):
        value: int = sdk.link()

    class Outputs(sdk.Outputs):
        pass

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> sdk.Result:
        _count(self.id)
        return sdk.Result(ui=sdk.UI(text=[f"value {inputs.value}"], data={"value": inputs.value}))


class Fail(sdk.Node):
    """Always fails with an unexpected exception (so the run records a traceback)."""

    id = "test.Fail"
    category = "test"

    class Inputs(sdk.Inputs):
        value: int = sdk.number(0)

    class Outputs(sdk.Outputs):
        value: int

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        _count(self.id)
        raise ZeroDivisionError("the test node always fails")


class Flaky(sdk.Node):
    """Fails while ``flaky_state["fail"]`` is set, else passes its value on."""

    id = "test.Flaky"
    category = "test"

    class Inputs(sdk.Inputs):
        value: int = sdk.number(0)

    class Outputs(sdk.Outputs):
        value: int

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        _count(self.id)
        if flaky_state["fail"]:
            raise sdk.NodeError("flaky node failed this time")
        return self.Outputs(value=inputs.value)


class Slow(sdk.Node):
    """Counts to ``steps`` taking ``step_seconds`` each, reporting progress (and a preview at the start)."""

    id = "test.Slow"
    category = "test"

    class Inputs(sdk.Inputs):
        value: int = sdk.number(0)
        steps: int = sdk.number(500, min=1)
        step_seconds: float = sdk.number(0.02, min=0)

    class Outputs(sdk.Outputs):
        value: int

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        _count(self.id)
        preview = np.full((1, 16, 16, 3), 0.5, dtype=np.float32)
        ctx.progress(0, inputs.steps, preview=preview)
        for step in range(1, inputs.steps + 1):
            time.sleep(inputs.step_seconds)
            ctx.progress(step, inputs.steps)
        return self.Outputs(value=inputs.value + inputs.steps)


class GpuInc(Inc):
    """``Inc``, declared as needing a GPU (runs of it go to the GPU queue)."""

    id = "test.GpuInc"
    requires_gpu = True


class PrefersGpuInc(Inc):
    """``Inc``, declared as preferring a GPU but able to run on a CPU."""

    id = "test.PrefersGpuInc"
    device = "gpu"


# Steps a test.Sampler has finished, and whether it ran to the end, per node id (cancel tests read them).
sampler_steps: dict[str, int] = {}
sampler_done: dict[str, bool] = {}


class Sampler(sdk.Node):
    """A fake sampler: ``steps`` steps of ``step_seconds``, each reporting progress with a preview image, as the
    diffusion pack's samplers do. Returns IMAGE (the last preview)."""

    id = "test.Sampler"
    category = "test"
    device = "gpu"

    class Inputs(sdk.Inputs):
        steps: int = sdk.number(4, min=1)
        step_seconds: float = sdk.number(0.0, min=0)
        width: int = sdk.number(64, min=1)
        height: int = sdk.number(48, min=1)

    class Outputs(sdk.Outputs):
        image: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        _count(self.id)
        sampler_done[ctx.node_id] = False
        image = np.zeros((1, inputs.height, inputs.width, 3), dtype=np.float32)
        # Smooth, like a decoded latent: horizontal ramps brightening with each step, and vertical waves.
        ramp = np.linspace(0.0, 1.0, inputs.width, dtype=np.float32)[None, None, :, None]
        waves = 0.1 * np.sin(np.arange(inputs.height, dtype=np.float32) / 7.0)[None, :, None, None]
        for step in range(1, inputs.steps + 1):
            time.sleep(inputs.step_seconds)
            image = np.clip(ramp * (step / inputs.steps) + waves + 0.2, 0, 1) * np.ones(
                image.shape, np.float32
            )
            sampler_steps[ctx.node_id] = step
            ctx.progress(step, inputs.steps, preview=image)
        sampler_done[ctx.node_id] = True
        return self.Outputs(image=image)


class FakeCudaOutOfMemory(RuntimeError):
    """What torch raises when CUDA memory runs out (``torch.cuda.OutOfMemoryError``), without importing torch."""


FakeCudaOutOfMemory.__name__ = "OutOfMemoryError"
FakeCudaOutOfMemory.__qualname__ = "OutOfMemoryError"


class OutOfMemory(sdk.Node):
    """Runs out of GPU memory every time, as torch reports it."""

    id = "test.OutOfMemory"
    category = "test"
    device = "gpu"

    class Inputs(sdk.Inputs):
        value: int = sdk.number(0)

    class Outputs(sdk.Outputs):
        value: int

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        _count(self.id)
        raise FakeCudaOutOfMemory(
            "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 7.79 GiB of which "
            "1.03 GiB is free."
        )


pack = sdk.Pack(
    name="runs-test",
    version="1.0.0",
    nodes=[Inc, Show, Fail, Flaky, Slow, GpuInc, PrefersGpuInc, Sampler, OutOfMemory],
)
