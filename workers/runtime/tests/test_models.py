"""The model manager against modelscope's real resolution and loading code, on tiny models the tests write.

No test reaches a network: every socket connection attempt fails the test.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from workers.runtime import models as mm
from workers.runtime.models import (
    ModelLoadError,
    ModelManager,
    ModelNotAvailable,
    fetch_model,
    load_modelscope_model,
    register_local_model,
    scan_local_models,
)

torch = pytest.importorskip("torch")

from modelscope.models.base import Model, TorchModel  # noqa: E402  (after the torch check)
from modelscope.models.builder import MODELS  # noqa: E402

TASK = "image-classification"
LINEAR = "flowyard-test-linear"
NUMPY_LINEAR = "flowyard-test-numpy-linear"


@MODELS.register_module(TASK, module_name=LINEAR)
class TinyLinear(TorchModel):  # type: ignore[misc]  # modelscope ships no type information
    """A torch linear layer whose weights come from the model directory."""

    def __init__(self, model_dir: str, *args: Any, features: int = 4, **kwargs: Any) -> None:
        super().__init__(model_dir, *args, **kwargs)
        self.linear = torch.nn.Linear(features, features)
        self.linear.load_state_dict(
            torch.load(os.path.join(model_dir, "pytorch_model.bin"), weights_only=True)
        )

    def forward(self, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
        return {"outputs": self.linear(input["x"])}


@MODELS.register_module(TASK, module_name=NUMPY_LINEAR)
class NumpyLinear(Model):  # type: ignore[misc]  # modelscope ships no type information
    """A model without torch: a matrix in weights.npy."""

    def __init__(self, model_dir: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(model_dir, *args, **kwargs)
        self.weights = np.load(os.path.join(model_dir, "weights.npy"))

    def forward(self, x: np.ndarray) -> dict[str, Any]:
        return {"outputs": x @ self.weights}


def configuration(model_type: str, **model: Any) -> str:
    return json.dumps({"framework": "pytorch", "task": TASK, "model": {"type": model_type, **model}})


def write_linear(directory: Path, features: int = 4, seed: int = 0) -> Any:
    """A tiny TinyLinear model directory; returns the layer the model must reproduce."""
    directory.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    layer = torch.nn.Linear(features, features)
    torch.save(layer.state_dict(), directory / "pytorch_model.bin")
    (directory / "configuration.json").write_text(configuration(LINEAR, features=features))
    return layer


def linear_bytes(features: int) -> int:
    return (features * features + features) * 4


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Make every attempt to open a network connection fail the test (and record it)."""
    attempts: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(args)
        raise AssertionError(f"a network connection was attempted: {args[1:]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty model cache named by MODELSCOPE_CACHE, with modelscope's process-wide config re-read."""
    from modelscope_hub.config import set_default_config

    root = tmp_path / "modelscope"
    monkeypatch.setenv("MODELSCOPE_CACHE", str(root))
    monkeypatch.setenv("MODELSCOPE_HOME", str(tmp_path / "modelscope-home"))
    set_default_config(None)
    yield root
    set_default_config(None)


class CountingLoader:
    """modelscope's real loader, counting calls per model directory (and optionally slowed down)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls: list[str] = []
        self.delay = delay
        self._lock = threading.Lock()
        self.active = 0
        self.most_at_once = 0

    def __call__(self, model_dir: Path, task: str | None, options: Any) -> Any:
        with self._lock:
            self.calls.append(model_dir.parent.parent.name)
            self.active += 1
            self.most_at_once = max(self.most_at_once, self.active)
        try:
            time.sleep(self.delay)
            return load_modelscope_model(model_dir, task, options)
        finally:
            with self._lock:
                self.active -= 1

    def count(self, model_id: str) -> int:
        return self.calls.count(model_id.replace("/", "--"))


# --- registering and resolving ----------------------------------------------------------------------------------


def test_registered_model_is_found_by_modelscope_snapshot_download_offline(
    cache: Path, tmp_path: Path
) -> None:
    from modelscope.hub.snapshot_download import snapshot_download

    write_linear(tmp_path / "src")
    target = register_local_model(tmp_path / "src", "flowyard/tiny-linear", "v1")

    assert target == cache / "models" / "flowyard--tiny-linear" / "snapshots" / "v1"
    found = snapshot_download("flowyard/tiny-linear", revision="v1", local_files_only=True)
    assert Path(found) == target
    assert sorted(p.name for p in target.iterdir()) == ["configuration.json", "pytorch_model.bin"]
    assert not [p for p in target.parent.parent.iterdir() if p.name.startswith(".")]


def test_revisions_are_kept_apart_and_master_is_the_default(cache: Path, tmp_path: Path) -> None:
    write_linear(tmp_path / "a", seed=1)
    write_linear(tmp_path / "b", seed=2)
    register_local_model(tmp_path / "a", "flowyard/tiny-linear")
    register_local_model(tmp_path / "b", "flowyard/tiny-linear", "v2")

    assert mm.resolve_model_dir("flowyard/tiny-linear").name == "master"
    assert mm.resolve_model_dir("flowyard/tiny-linear", "v2").name == "v2"


def test_registering_a_revision_twice_needs_overwrite(cache: Path, tmp_path: Path) -> None:
    write_linear(tmp_path / "a", features=2)
    write_linear(tmp_path / "b", features=3)
    register_local_model(tmp_path / "a", "flowyard/tiny-linear")

    with pytest.raises(FileExistsError, match="already registered"):
        register_local_model(tmp_path / "b", "flowyard/tiny-linear")
    target = register_local_model(tmp_path / "b", "flowyard/tiny-linear", overwrite=True)
    assert json.loads((target / "configuration.json").read_text())["model"]["features"] == 3


def test_hardlinked_registration_shares_the_files(cache: Path, tmp_path: Path) -> None:
    write_linear(tmp_path / "src")
    target = register_local_model(tmp_path / "src", "flowyard/tiny-linear", hardlink=True)
    assert os.path.samefile(target / "pytorch_model.bin", tmp_path / "src" / "pytorch_model.bin")


def test_an_old_layout_copy_blocks_registering_revisions(cache: Path, tmp_path: Path) -> None:
    write_linear(cache / "models" / "flowyard" / "tiny-linear")
    write_linear(tmp_path / "src")
    with pytest.raises(ValueError, match="old-layout copy"):
        register_local_model(tmp_path / "src", "flowyard/tiny-linear", "v2")


@pytest.mark.parametrize("model_id", ["noslash", "../etc/passwd", "a/b/c", "/abs/path"])
def test_model_ids_that_are_not_owner_slash_name_are_refused(cache: Path, model_id: str) -> None:
    with pytest.raises(ModelNotAvailable, match="not a ModelScope model id"):
        ModelManager().get(model_id)


def test_a_revision_that_would_leave_the_cache_is_refused(cache: Path) -> None:
    with pytest.raises(ModelNotAvailable, match="is not a branch, tag or commit"):
        ModelManager().get("flowyard/tiny-linear", "../../x")


# --- missing models ---------------------------------------------------------------------------------------------


def test_a_missing_model_names_id_revision_cache_path_and_how_to_fetch(
    cache: Path, no_network: list[Any]
) -> None:
    manager = ModelManager(memory_budget_bytes=1 << 20)
    with pytest.raises(ModelNotAvailable) as caught:
        manager.get("flowyard/absent", "v3")
    message = str(caught.value)
    expected = cache / "models" / "flowyard--absent" / "snapshots" / "v3"
    assert (
        f"model 'flowyard/absent' at revision 'v3' is not in the local model cache at {expected}" in message
    )
    assert "flowyard models fetch flowyard/absent --revision v3" in message
    assert "flowyard models register DIR flowyard/absent --revision v3" in message
    assert no_network == []


def test_a_missing_revision_of_a_cached_model_is_reported(cache: Path, tmp_path: Path) -> None:
    write_linear(tmp_path / "src")
    register_local_model(tmp_path / "src", "flowyard/tiny-linear")
    with pytest.raises(ModelNotAvailable, match="at revision 'v9' is not in the local model cache"):
        ModelManager().get("flowyard/tiny-linear", "v9")


# --- loading through modelscope -----------------------------------------------------------------------------------


def test_a_torch_model_loads_through_model_from_pretrained_and_computes(cache: Path, tmp_path: Path) -> None:
    layer = write_linear(tmp_path / "src")
    register_local_model(tmp_path / "src", "flowyard/tiny-linear")
    manager = ModelManager(memory_budget_bytes=1 << 20)

    model = manager.get("flowyard/tiny-linear")
    again = manager.get("flowyard/tiny-linear", "master")  # warm: the same object, not loaded again

    assert isinstance(model, TinyLinear) and again is model
    x = torch.rand(3, 4)
    with torch.no_grad():
        assert torch.allclose(model({"x": x})["outputs"], layer(x))
    (info,) = manager.warm_models()
    assert (info.model_id, info.revision, info.task) == ("flowyard/tiny-linear", "master", None)
    assert info.size_bytes == linear_bytes(4)


def test_a_model_without_torch_is_sized_by_its_directory(cache: Path, tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    weights = np.arange(9, dtype=np.float32).reshape(3, 3)
    np.save(source / "weights.npy", weights)
    (source / "configuration.json").write_text(configuration(NUMPY_LINEAR))
    register_local_model(source, "flowyard/numpy-linear")
    manager = ModelManager(memory_budget_bytes=1 << 20)

    model = manager.get("flowyard/numpy-linear")

    assert isinstance(model, NumpyLinear)
    np.testing.assert_array_equal(model(np.ones((1, 3), np.float32))["outputs"], [[9.0, 12.0, 15.0]])
    expected = sum(p.stat().st_size for p in (source / "weights.npy", source / "configuration.json"))
    assert manager.warm_models()[0].size_bytes == expected


def test_a_task_loads_a_modelscope_pipeline(cache: Path, tmp_path: Path) -> None:
    pytest.importorskip("datasets")  # modelscope.pipelines imports it
    from modelscope.pipelines.base import Pipeline
    from modelscope.pipelines.builder import PIPELINES

    pipeline_type = "flowyard-test-linear-pipeline"
    if PIPELINES.get(pipeline_type, TASK) is None:

        @PIPELINES.register_module(TASK, module_name=pipeline_type)
        class LinearPipeline(Pipeline):  # type: ignore[misc]  # modelscope ships no type information
            def preprocess(self, input: Any) -> dict[str, Any]:  # noqa: A002
                return {"x": torch.as_tensor(np.asarray(input, np.float32))}

            def forward(self, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
                with torch.no_grad():
                    outputs: dict[str, Any] = self.model(input)
                return outputs

            def postprocess(self, inputs: dict[str, Any]) -> dict[str, Any]:
                return {"scores": inputs["outputs"].tolist()}

    layer = write_linear(tmp_path / "src")
    config = json.loads((tmp_path / "src" / "configuration.json").read_text())
    config["pipeline"] = {"type": pipeline_type}
    (tmp_path / "src" / "configuration.json").write_text(json.dumps(config))
    register_local_model(tmp_path / "src", "flowyard/tiny-linear")
    manager = ModelManager(memory_budget_bytes=1 << 20)

    pipe = manager.get("flowyard/tiny-linear", task=TASK, device="cpu")
    model = manager.get("flowyard/tiny-linear")

    assert isinstance(pipe, Pipeline) and isinstance(pipe.model, TinyLinear)
    assert pipe.model is not model  # a pipeline and a bare model are separate warm entries
    x = np.array([[0.5, -1.0, 2.0, 0.0]], np.float32)
    with torch.no_grad():
        expected = layer(torch.from_numpy(x)).tolist()
    np.testing.assert_allclose(pipe(x)["scores"], expected, rtol=1e-6)
    assert [(m.task, m.size_bytes) for m in manager.warm_models()] == [
        (TASK, linear_bytes(4)),
        (None, linear_bytes(4)),
    ]


def test_a_load_failure_names_the_model_and_reaches_the_caller(cache: Path, tmp_path: Path) -> None:
    write_linear(tmp_path / "src")
    (tmp_path / "src" / "configuration.json").write_text(configuration("flowyard-no-such-architecture"))
    register_local_model(tmp_path / "src", "flowyard/broken")
    with pytest.raises(
        ModelLoadError, match="model 'flowyard/broken' at revision 'master' could not be loaded"
    ):
        ModelManager().get("flowyard/broken")


# --- the warm set -------------------------------------------------------------------------------------------------


def register_linears(tmp_path: Path, *names: str, features: int = 4) -> None:
    for name in names:
        write_linear(tmp_path / name, features=features)
        register_local_model(tmp_path / name, f"flowyard/{name}")


def test_least_recently_used_models_are_unloaded_to_stay_within_the_budget(
    cache: Path, tmp_path: Path
) -> None:
    register_linears(tmp_path, "a", "b", "c")
    loader = CountingLoader()
    manager = ModelManager(memory_budget_bytes=2 * linear_bytes(4), loader=loader)

    manager.get("flowyard/a")
    manager.get("flowyard/b")
    manager.get("flowyard/a")  # a is now the most recently used
    manager.get("flowyard/c")  # over budget: b goes

    assert [m.model_id for m in manager.warm_models()] == ["flowyard/a", "flowyard/c"]
    assert manager.warm_bytes == 2 * linear_bytes(4)
    manager.get("flowyard/b")  # loads again; a is now the least recently used
    assert [m.model_id for m in manager.warm_models()] == ["flowyard/c", "flowyard/b"]
    assert (loader.count("flowyard/a"), loader.count("flowyard/b"), loader.count("flowyard/c")) == (1, 2, 1)


def test_a_model_bigger_than_the_budget_is_kept_alone(cache: Path, tmp_path: Path) -> None:
    register_linears(tmp_path, "small", features=2)
    register_linears(tmp_path, "big", features=8)
    manager = ModelManager(memory_budget_bytes=linear_bytes(4))

    manager.get("flowyard/small")
    big = manager.get("flowyard/big")

    assert isinstance(big, TinyLinear)
    assert [m.model_id for m in manager.warm_models()] == ["flowyard/big"]


def test_concurrent_gets_of_one_model_load_it_once(cache: Path, tmp_path: Path) -> None:
    register_linears(tmp_path, "a", "b")
    loader = CountingLoader(delay=0.2)
    manager = ModelManager(memory_budget_bytes=1 << 20, loader=loader)
    results: list[Any] = []
    barrier = threading.Barrier(9)

    def get(model_id: str) -> None:
        barrier.wait()
        results.append((model_id, manager.get(model_id)))

    threads = [threading.Thread(target=get, args=("flowyard/a",)) for _ in range(6)]
    threads += [threading.Thread(target=get, args=("flowyard/b",)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert (loader.count("flowyard/a"), loader.count("flowyard/b")) == (1, 1)
    assert len({id(model) for model_id, model in results if model_id == "flowyard/a"}) == 1
    assert len(results) == 9
    # The two models loaded side by side, not one after the other (counted, not timed: 0.2 s of sleep each
    # overlaps on any machine, however loaded).
    assert loader.most_at_once == 2


def test_a_failed_load_fails_its_waiters_and_is_tried_again_later(cache: Path, tmp_path: Path) -> None:
    register_linears(tmp_path, "a")
    attempts: list[int] = []
    entered = threading.Event()

    def flaky(model_dir: Path, task: str | None, options: Any) -> Any:
        attempts.append(1)
        if len(attempts) == 1:
            entered.set()
            time.sleep(0.2)
            raise RuntimeError("disk hiccup")
        return load_modelscope_model(model_dir, task, options)

    manager = ModelManager(memory_budget_bytes=1 << 20, loader=flaky)
    errors: list[BaseException] = []

    def get() -> None:
        try:
            manager.get("flowyard/a")
        except ModelLoadError as exc:
            errors.append(exc)

    first = threading.Thread(target=get)
    first.start()
    entered.wait(5)
    waiter = threading.Thread(target=get)
    waiter.start()
    first.join(10)
    waiter.join(10)

    assert len(errors) == 2 and all("disk hiccup" in str(e) for e in errors)
    assert isinstance(manager.get("flowyard/a"), TinyLinear)
    assert len(attempts) == 2


def test_free_all_and_unload_drop_warm_models(cache: Path, tmp_path: Path) -> None:
    register_linears(tmp_path, "a", "b")
    loader = CountingLoader()
    manager = ModelManager(memory_budget_bytes=1 << 20, loader=loader)
    manager.get("flowyard/a")
    manager.get("flowyard/b")

    assert manager.unload("flowyard/a") == 1
    assert [m.model_id for m in manager.warm_models()] == ["flowyard/b"]
    assert manager.free_all() == 1
    assert manager.warm_models() == [] and manager.warm_bytes == 0
    manager.get("flowyard/b")
    assert loader.count("flowyard/b") == 2


# --- listing, fetching, settings ----------------------------------------------------------------------------------


def test_available_models_lists_what_the_cache_can_load(cache: Path, tmp_path: Path) -> None:
    write_linear(tmp_path / "src")
    register_local_model(tmp_path / "src", "flowyard/tiny-linear")
    register_local_model(tmp_path / "src", "flowyard/tiny-linear", "v2")
    write_linear(cache / "models" / "damo" / "old___style")  # the layout of modelscope <= 1.37
    (cache / "models" / "flowyard--empty" / "snapshots" / "master").mkdir(parents=True)

    listed = ModelManager().available_models()

    assert [(m.model_id, m.revision, m.layout) for m in listed] == [
        ("damo/old.style", "master", "legacy"),
        ("flowyard/tiny-linear", "master", "snapshots"),
        ("flowyard/tiny-linear", "v2", "snapshots"),
    ]
    model = listed[1]
    assert model.path == cache / "models" / "flowyard--tiny-linear" / "snapshots" / "master"
    assert (model.task, model.framework) == (TASK, "pytorch")
    assert model.size_bytes == sum(p.stat().st_size for p in (tmp_path / "src").iterdir())
    assert scan_local_models(cache) == listed
    assert mm.resolve_model_dir("damo/old.style") == cache / "models" / "damo" / "old___style"


def test_fetch_model_asks_modelscope_to_download(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    def fake_snapshot_download(model_id: str, **kwargs: Any) -> str:
        calls.append((model_id, kwargs))
        return str(mm.snapshot_dir(cache, model_id, kwargs["revision"]))

    monkeypatch.setattr(mm, "_snapshot_download", fake_snapshot_download)
    path = fetch_model("damo/some-model", "v1.0.2")

    assert calls == [("damo/some-model", {"revision": "v1.0.2", "cache_dir": str(cache)})]
    assert path == cache / "models" / "damo--some-model" / "snapshots" / "v1.0.2"


def test_a_manager_that_may_fetch_does_not_ask_for_local_files_only(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []

    def fake_snapshot_download(model_id: str, **kwargs: Any) -> str:
        calls.append(kwargs)
        raise ConnectionError("no route to the hub")

    monkeypatch.setattr(mm, "_snapshot_download", fake_snapshot_download)
    with pytest.raises(ModelNotAvailable, match="could not be fetched: no route"):
        ModelManager(allow_fetch=True).get("damo/some-model")
    with pytest.raises(ModelNotAvailable, match="not in the local model cache"):
        ModelManager().get("damo/some-model")
    assert [c["local_files_only"] for c in calls] == [False, True]


def test_the_memory_budget_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWYARD_MODEL_MEMORY_BYTES", "123456")
    assert ModelManager.from_env().memory_budget_bytes == 123456
    assert ModelManager(memory_budget_bytes=7).memory_budget_bytes == 7
    monkeypatch.setenv("FLOWYARD_MODEL_MEMORY_BYTES", "lots")
    with pytest.raises(ValueError, match="not a whole number"):
        ModelManager()
    monkeypatch.delenv("FLOWYARD_MODEL_MEMORY_BYTES")
    assert ModelManager().memory_budget_bytes == mm.DEFAULT_MEMORY_BUDGET


# --- the command line -----------------------------------------------------------------------------------------------


def test_the_models_command_registers_and_lists(
    cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from workers.cli import models as models_cli

    write_linear(tmp_path / "src")
    assert (
        models_cli.main(["register", str(tmp_path / "src"), "flowyard/tiny-linear", "--revision", "v1"]) == 0
    )
    assert (
        models_cli.main(["register", str(tmp_path / "src"), "flowyard/tiny-linear", "--revision", "v1"]) == 1
    )
    assert "already registered" in capsys.readouterr().err

    assert models_cli.main(["list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["cache_dir"] == str(cache)
    assert [(m["model_id"], m["revision"], m["task"]) for m in listed["models"]] == [
        ("flowyard/tiny-linear", "v1", TASK)
    ]
    assert models_cli.main(["list"]) == 0
    assert "flowyard/tiny-linear  v1" in capsys.readouterr().out
