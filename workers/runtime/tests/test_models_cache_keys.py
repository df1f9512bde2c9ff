"""Model identity in cache keys is the library file's content hash, through the real library and engine."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from nodepacks import sdk
from workers.engine import Engine, MemoryCache, NodeRegistry, compute_cache_keys
from workers.engine.cache_keys import keys_for
from workers.engine.tests.helpers import graph
from workers.engine.validation import resolve_graph
from workers.runtime.model_library import ModelLibrary
from workers.runtime.models import ModelManager


class LoadCheckpoint(sdk.Node):
    """Reads the first bytes of a checkpoint (stands in for a loader: the path comes from the library)."""

    id = "keytest.LoadCheckpoint"

    class Inputs(sdk.Inputs):
        ckpt_name: str = sdk.model_file("checkpoints")
        strength: float = sdk.number(1.0)

    class Outputs(sdk.Outputs):
        head: str

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(head=ctx.models.file("checkpoints", inputs.ckpt_name).read_bytes()[:8].decode())


registry = NodeRegistry([sdk.Pack(name="key-test", version="1.0.0", nodes=[LoadCheckpoint])])


def load(name: str, strength: float = 1.0) -> Any:
    return graph(
        {"load": ("keytest.LoadCheckpoint", {"ckpt_name": name, "strength": strength})}, outputs=["load"]
    )


def setup(tmp_path: Path) -> tuple[ModelManager, Path]:
    folder = tmp_path / "models" / "checkpoints"
    folder.mkdir(parents=True)
    (folder / "sd15.safetensors").write_bytes(b"weights-1")
    models = ModelManager(tmp_path / "modelscope", library=ModelLibrary([tmp_path / "models"]))
    return models, folder


def test_renaming_a_model_file_keeps_the_key(tmp_path: Path) -> None:
    models, folder = setup(tmp_path)
    before = compute_cache_keys(load("sd15.safetensors"), registry, models=models)["load"]
    (folder / "sd15.safetensors").rename(folder / "renamed.safetensors")
    assert compute_cache_keys(load("renamed.safetensors"), registry, models=models)["load"] == before
    # Other constants still count.
    assert compute_cache_keys(load("renamed.safetensors", 0.5), registry, models=models)["load"] != before


def test_changing_a_model_file_content_changes_the_key(tmp_path: Path) -> None:
    models, folder = setup(tmp_path)
    before = compute_cache_keys(load("sd15.safetensors"), registry, models=models)["load"]
    (folder / "sd15.safetensors").write_bytes(b"weights-2")
    os.utime(folder / "sd15.safetensors", ns=(10**9, 10**9))
    assert compute_cache_keys(load("sd15.safetensors"), registry, models=models)["load"] != before


def test_two_names_of_one_content_share_a_key(tmp_path: Path) -> None:
    models, folder = setup(tmp_path)
    (folder / "copy.safetensors").write_bytes(b"weights-1")
    keys = [
        compute_cache_keys(load(n), registry, models=models)["load"]
        for n in ("sd15.safetensors", "copy.safetensors")
    ]
    assert keys[0] == keys[1]


def test_a_missing_model_file_makes_the_node_volatile_and_it_fails_with_the_library_message(
    tmp_path: Path,
) -> None:
    models, folder = setup(tmp_path)
    resolved = resolve_graph(load("gone.safetensors"), registry)
    keys = keys_for(resolved, models=models)
    assert keys.volatile == {"load"}
    events: list[Any] = []
    result = Engine(registry, MemoryCache(), models=models).run(
        load("gone.safetensors"), on_event=events.append
    )
    assert result.status == "failed"
    [failed] = [event for event in events if event.type == "node_failed"]
    assert "gone.safetensors" in failed.data["error"] and str(folder) in failed.data["error"]


def test_the_engine_reuses_the_result_across_a_rename(tmp_path: Path) -> None:
    models, folder = setup(tmp_path)
    engine = Engine(registry, MemoryCache(), models=models)
    first = engine.run(load("sd15.safetensors"))
    assert first.status == "succeeded" and first.outputs["load"] == ("weights-",)
    (folder / "sd15.safetensors").rename(folder / "v1.safetensors")
    second = engine.run(load("v1.safetensors"))
    assert second.cached == ["load"] and second.executed == []


def test_the_old_signature_without_models_still_works(tmp_path: Path) -> None:
    resolved = resolve_graph(load("sd15.safetensors"), registry)
    assert keys_for(resolved).volatile == {"load"}  # no library: the name cannot be hashed, so it re-runs
    assert keys_for(resolve_graph(load(""), registry)).volatile == set()
