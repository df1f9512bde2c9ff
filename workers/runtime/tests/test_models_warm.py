"""The model manager's warm objects (``cached``): one load per key, the RAM and VRAM budgets, offload to the CPU,
the engine's out-of-memory recovery, and what heartbeats report."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from nodepacks import sdk
from workers.engine import Engine, MemoryCache, NodeRegistry
from workers.engine.tests.helpers import graph
from workers.runtime import models as mm
from workers.runtime.model_library import ModelLibrary
from workers.runtime.models import ModelManager

torch = pytest.importorskip("torch")


def manager(tmp_path: Path, **kwargs: Any) -> ModelManager:
    return ModelManager(tmp_path / "modelscope", library=ModelLibrary([tmp_path / "models"]), **kwargs)


def linear(features: int = 4) -> Any:
    return torch.nn.Linear(features, features)  # (f*f + f) float32 parameters


def test_concurrent_callers_of_one_key_wait_for_a_single_load(tmp_path: Path) -> None:
    models = manager(tmp_path)
    loads = 0
    gate = threading.Event()

    def load() -> Any:
        nonlocal loads
        loads += 1
        gate.wait(5)
        return linear()

    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(models.cached("net", load))) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.05)
    gate.set()
    for thread in threads:
        thread.join(5)
    assert loads == 1 and len(results) == 4 and all(result is results[0] for result in results)
    (info,) = models.warm_models()
    assert (info.kind, info.key, info.device, info.size_bytes) == ("object", "net", "cpu", (16 + 4) * 4)


def test_a_failed_load_reaches_every_waiter_and_the_next_call_tries_again(tmp_path: Path) -> None:
    models = manager(tmp_path)
    gate = threading.Event()
    errors: list[BaseException] = []

    def broken() -> Any:
        gate.wait(5)
        raise sdk.NodeError("weights file is corrupt")

    def call() -> None:
        try:
            models.cached("bad", broken)
        except sdk.NodeError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(0.05)
    gate.set()
    for thread in threads:
        thread.join(5)
    assert [str(e) for e in errors] == ["weights file is corrupt"] * 3
    assert models.cached("bad", lambda: "fixed") == "fixed"


def test_warm_objects_share_the_ram_budget_least_recently_used_first(tmp_path: Path) -> None:
    models = manager(tmp_path, memory_budget_bytes=250)
    models.cached("a", lambda: "A", size_bytes=100)
    models.cached("b", lambda: "B", size_bytes=100)
    assert models.cached("a", lambda: "again") == "A"  # a is now the most recently used
    models.cached("c", lambda: "C", size_bytes=100)
    assert [m.key for m in models.warm_models()] == ["a", "c"]
    models.cached("huge", lambda: "H", size_bytes=1000)
    assert [m.key for m in models.warm_models()] == ["huge"]  # kept alone, with a warning


def test_the_size_of_a_holder_of_torch_modules_counts_each_tensor_once(tmp_path: Path) -> None:
    models = manager(tmp_path)
    shared = linear(8)

    class Stack:
        def __init__(self) -> None:
            self.encoder = shared
            self.same = shared
            self.head = linear(2)
            self.register = torch.zeros(3)  # a bare tensor is not a module: not counted

    models.cached("stack", Stack)
    assert models.warm_models()[0].size_bytes == ((64 + 8) + (4 + 2)) * 4


@pytest.fixture
def fake_gpu(monkeypatch: pytest.MonkeyPatch) -> dict[int, str]:
    """A stand-in for cuda on a CPU-only machine: where each module "is" is kept beside it, and moving it only
    changes that record. The budgeting and offload code around these two seams is the real one."""
    where: dict[int, str] = {}

    def device_of(modules: list[Any]) -> str:
        return where.get(id(modules[0]), "cpu") if modules else "cpu"

    def to_device(modules: list[Any], device: str) -> None:
        for module in modules:
            where[id(module)] = device

    monkeypatch.setattr(mm, "_device_of", device_of)
    monkeypatch.setattr(mm, "_to_device", to_device)
    return where


def on_gpu(where: dict[int, str], module: Any) -> Any:
    where[id(module)] = "cuda:0"
    return module


def test_short_vram_offloads_the_least_recently_used_module_to_the_cpu_and_brings_it_back(
    tmp_path: Path, fake_gpu: dict[int, str]
) -> None:
    size = (16 + 4) * 4
    models = manager(tmp_path, memory_budget_bytes=10 * size, vram_budget_bytes=2 * size)
    a = models.cached("a", lambda: on_gpu(fake_gpu, linear()))
    models.cached("b", lambda: on_gpu(fake_gpu, linear()))
    models.cached("c", lambda: on_gpu(fake_gpu, linear()))
    assert [(m.key, m.device) for m in models.warm_models()] == [
        ("a", "cpu"),
        ("b", "cuda:0"),
        ("c", "cuda:0"),
    ]
    assert fake_gpu[id(a)] == "cpu"
    # Asked for again, "a" goes back to the GPU it was loaded on, and now "b" is the one offloaded.
    assert models.cached("a", lambda: pytest.fail("a is still warm")) is a
    assert fake_gpu[id(a)] == "cuda:0"
    assert [(m.key, m.device) for m in models.warm_models()] == [
        ("b", "cpu"),
        ("c", "cuda:0"),
        ("a", "cuda:0"),
    ]


def test_what_neither_vram_nor_ram_can_hold_is_dropped(tmp_path: Path, fake_gpu: dict[int, str]) -> None:
    size = (16 + 4) * 4
    models = manager(tmp_path, memory_budget_bytes=size, vram_budget_bytes=size)
    models.cached("a", lambda: on_gpu(fake_gpu, linear()))
    models.cached("b", lambda: on_gpu(fake_gpu, linear()))
    assert [(m.key, m.device) for m in models.warm_models()] == [("a", "cpu"), ("b", "cuda:0")]
    models.cached("c", lambda: on_gpu(fake_gpu, linear()))
    assert [(m.key, m.device) for m in models.warm_models()] == [("b", "cpu"), ("c", "cuda:0")]
    models.cached("d", lambda: on_gpu(fake_gpu, linear()))
    assert [(m.key, m.device) for m in models.warm_models()] == [("c", "cpu"), ("d", "cuda:0")]


def test_vram_budget_comes_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(mm.VRAM_ENV, "12345")
    assert manager(tmp_path).vram_budget_bytes == 12345
    monkeypatch.setenv(mm.VRAM_ENV, "lots")
    with pytest.raises(ValueError, match="FLOWYARD_MODEL_VRAM_BYTES"):
        manager(tmp_path)
    monkeypatch.delenv(mm.VRAM_ENV)
    if not torch.cuda.is_available():
        assert manager(tmp_path).vram_budget_bytes == 0


def test_heartbeat_json_names_kind_key_and_device(tmp_path: Path) -> None:
    models = manager(tmp_path)
    models.cached("sd15|unet", linear)
    (report,) = [m.to_json() for m in models.warm_models()]
    assert report["kind"] == "object" and report["key"] == "sd15|unet" and report["device"] == "cpu"
    assert report["path"] is None and report["size_bytes"] == 80


# -- the engine's out-of-memory recovery, through a real node and the real manager -----------------------------

attempts: list[int] = []


class Hungry(sdk.Node):
    """Keeps a network warm, then runs out of memory the first time."""

    id = "warmtest.Hungry"

    class Inputs(sdk.Inputs):
        value: int = sdk.number(0)

    class Outputs(sdk.Outputs):
        value: int

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        ctx.models.cached("net", linear)
        attempts.append(len(attempts))
        if len(attempts) == 1:
            raise MemoryError("out of memory")
        return self.Outputs(value=inputs.value)


def test_out_of_memory_drops_the_warm_objects_and_the_node_runs_again(tmp_path: Path) -> None:
    attempts.clear()
    models = manager(tmp_path)
    models.cached("other", linear)
    registry = NodeRegistry([sdk.Pack(name="warm-test", version="1.0.0", nodes=[Hungry])])
    events: list[Any] = []
    result = Engine(registry, MemoryCache(), models=models).run(
        graph({"a": ("warmtest.Hungry", {"value": 3})}, outputs=["a"]), on_event=events.append
    )
    assert result.status == "succeeded" and result.outputs["a"] == (3,)
    [retry] = [event for event in events if event.type == "node_retry"]
    assert retry.data["models_freed"] == 2  # "other" and the first attempt's "net"
    assert [m.key for m in models.warm_models()] == ["net"]  # loaded again by the second attempt
