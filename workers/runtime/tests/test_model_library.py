"""The model library on real folders the tests write: ComfyUI's layout, extra_model_paths.yaml, names, hashes,
and fetching a ModelScope file through modelscope's own (offline) resolver."""

from __future__ import annotations

import hashlib
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nodepacks.sdk import NodeError
from workers.runtime import model_library as ml
from workers.runtime.model_library import INDEX_FILE, ModelLibrary, parse_extra_model_paths
from workers.runtime.models import register_local_model


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model library must not reach a network in tests")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    yield


def write(path: Path, data: bytes = b"weights") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_lists_model_files_by_kind_with_subfolders_aliases_and_diffusers_folders(tmp_path: Path) -> None:
    root = tmp_path / "models"
    write(root / "checkpoints" / "sd15.safetensors")
    write(root / "checkpoints" / "xl" / "base.SAFETENSORS")
    write(root / "checkpoints" / "notes.txt")
    write(root / "checkpoints" / ".hidden.ckpt")
    write(root / "unet" / "flux.sft")
    write(root / "diffusion_models" / "wan.gguf")
    write(root / "clip" / "t5.bin")
    write(root / "diffusers" / "tiny-sd" / "model_index.json", b"{}")
    write(root / "diffusers" / "tiny-sd" / "unet" / "diffusion_pytorch_model.safetensors")
    library = ModelLibrary([root])

    assert library.list("checkpoints") == ["sd15.safetensors", "xl/base.SAFETENSORS"]
    assert library.list("unet") == library.list("diffusion_models") == ["flux.sft", "wan.gguf"]
    assert library.list("text_encoders") == ["t5.bin"]
    assert library.list("diffusers") == ["tiny-sd"]
    assert library.list("loras") == []
    (folder,) = library.entries("diffusers")
    assert folder.is_folder and folder.size_bytes == len(b"{}") + len(b"weights")


def test_the_first_root_wins_a_name_and_paths_come_from_the_folder_that_has_it(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    write(first / "loras" / "style.safetensors", b"first")
    write(second / "loras" / "style.safetensors", b"second")
    write(second / "loras" / "only-b.safetensors", b"b")
    library = ModelLibrary([first, second])
    assert library.list("loras") == ["only-b.safetensors", "style.safetensors"]
    assert library.path("loras", "style.safetensors").read_bytes() == b"first"
    assert library.path("loras", "only-b.safetensors").read_bytes() == b"b"


def test_a_missing_file_names_the_file_and_every_folder_searched(tmp_path: Path) -> None:
    library = ModelLibrary([tmp_path / "models"])
    with pytest.raises(NodeError) as raised:
        library.path("vae", "nope.safetensors")
    message = str(raised.value)
    assert "nope.safetensors" in message
    assert str(tmp_path / "models" / "vae") in message
    with pytest.raises(NodeError, match="not a model folder"):
        library.path("weights", "x.safetensors")


@pytest.mark.parametrize("name", ["../secret.safetensors", "a/../../secret.safetensors", "/etc/passwd", ""])
def test_names_that_walk_out_of_the_folder_are_refused(tmp_path: Path, name: str) -> None:
    write(tmp_path / "secret.safetensors")
    write(tmp_path / "models" / "secret.safetensors")
    library = ModelLibrary([tmp_path / "models"])
    with pytest.raises(NodeError):
        library.path("checkpoints", name)


def test_symlinks_out_of_the_folders_are_neither_listed_nor_opened(tmp_path: Path) -> None:
    outside = write(tmp_path / "elsewhere" / "leak.safetensors")
    folder = tmp_path / "models" / "checkpoints"
    write(folder / "inside.safetensors")
    os.symlink(outside, folder / "leak.safetensors")
    os.symlink(folder / "inside.safetensors", folder / "alias.safetensors")
    library = ModelLibrary([tmp_path / "models"])
    assert library.list("checkpoints") == ["alias.safetensors", "inside.safetensors"]
    with pytest.raises(NodeError, match="outside"):
        library.path("checkpoints", "leak.safetensors")
    assert library.path("checkpoints", "alias.safetensors").is_symlink()


def test_extra_model_paths_yaml_points_at_an_existing_comfyui_models_folder(tmp_path: Path) -> None:
    comfy = tmp_path / "ComfyUI"
    write(comfy / "models" / "checkpoints" / "comfy.safetensors")
    write(comfy / "models" / "clip" / "clip_l.safetensors")
    write(comfy / "models" / "unet" / "flux.safetensors")
    write(comfy / "more_loras" / "extra.safetensors")
    write(tmp_path / "other" / "vae" / "ae.safetensors")
    config = tmp_path / "extra_model_paths.yaml"
    config.write_text(
        "comfyui:\n"
        "    base_path: ComfyUI/\n"
        "    is_default: true\n"
        "    checkpoints: models/checkpoints/\n"
        "    clip: models/clip/\n"
        "    unet: models/unet/\n"
        "    loras: |\n"
        "        models/loras\n"
        "        more_loras\n"
        "    custom_nodes: custom_nodes/\n"
        "other:\n"
        f"    vae: {tmp_path / 'other' / 'vae'}\n"
    )
    sections = parse_extra_model_paths(config)
    assert [sorted(kinds) for _base, kinds in sections] == [
        ["checkpoints", "diffusion_models", "loras", "text_encoders"],
        ["vae"],
    ]
    own = tmp_path / "var" / "models"
    write(own / "checkpoints" / "mine.safetensors")
    library = ModelLibrary([own], extra_paths=[config])
    assert library.list("checkpoints") == ["comfy.safetensors", "mine.safetensors"]
    assert library.list("clip") == ["clip_l.safetensors"]
    assert library.list("diffusion_models") == ["flux.safetensors"]
    assert library.list("loras") == ["extra.safetensors"]
    assert library.list("vae") == ["ae.safetensors"]
    assert library.folders("loras")[-2:] == [comfy / "models" / "loras", comfy / "more_loras"]


def test_from_env_reads_the_models_dir_and_the_extra_paths_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "lib" / "loras" / "a.safetensors")
    write(tmp_path / "comfy" / "loras" / "b.safetensors")
    config = tmp_path / "extra.yaml"
    config.write_text(f"c:\n  base_path: {tmp_path / 'comfy'}\n  loras: loras\n")
    monkeypatch.setenv(ml.MODELS_DIR_ENV, str(tmp_path / "lib"))
    monkeypatch.setenv(ml.EXTRA_PATHS_ENV, str(config))
    assert ModelLibrary.from_env().list("loras") == ["a.safetensors", "b.safetensors"]
    monkeypatch.delenv(ml.MODELS_DIR_ENV)
    monkeypatch.setenv(ml.VAR_DIR_ENV, str(tmp_path / "var"))
    assert ml.default_models_dir() == tmp_path / "var" / "models"


def test_a_file_is_hashed_once_while_its_size_and_mtime_stay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "models"
    model = write(root / "checkpoints" / "sd.safetensors", b"abc" * 1000)
    library = ModelLibrary([root])
    assert library.sha256("checkpoints", "sd.safetensors") == hashlib.sha256(b"abc" * 1000).hexdigest()
    index = json.loads((root / INDEX_FILE).read_text())
    assert index["files"]["checkpoints/sd.safetensors"]["size"] == 3000

    opened: list[Path] = []
    real_open = Path.open

    def counting_open(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self.suffix == ".safetensors":
            opened.append(self)
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", counting_open)
    # A new library (another process) reads the index instead of hashing the file again.
    assert (
        ModelLibrary([root]).sha256("checkpoints", "sd.safetensors")
        == hashlib.sha256(b"abc" * 1000).hexdigest()
    )
    assert opened == []
    model.write_bytes(b"xyz" * 1000)
    os.utime(model, ns=(1, 1))
    opened.clear()
    assert library.sha256("checkpoints", "sd.safetensors") == hashlib.sha256(b"xyz" * 1000).hexdigest()
    assert opened == [model]
    assert library.entries("checkpoints")[0].sha256 == hashlib.sha256(b"xyz" * 1000).hexdigest()


def test_a_diffusers_folder_hash_follows_its_files(tmp_path: Path) -> None:
    root = tmp_path / "models"
    folder = root / "diffusers" / "tiny"
    write(folder / "model_index.json", b"{}")
    weights = write(folder / "unet" / "w.safetensors", b"one")
    library = ModelLibrary([root])
    before = library.sha256("diffusers", "tiny")
    write(folder / ".cache" / "ignored", b"x")
    assert library.sha256("diffusers", "tiny") == before
    weights.write_bytes(b"two")
    os.utime(weights, ns=(5, 5))
    assert library.sha256("diffusers", "tiny") != before


def test_a_folder_that_cannot_hold_the_index_still_hashes_and_remembers_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "ro"
    write(root / "vae" / "ae.safetensors", b"vae")

    def read_only(*args: object) -> None:
        raise PermissionError("read-only file system")

    monkeypatch.setattr(os, "replace", read_only)  # what a read-only mount answers (tests may run as root)
    library = ModelLibrary([root])
    assert library.sha256("vae", "ae.safetensors") == hashlib.sha256(b"vae").hexdigest()
    assert sorted(p.name for p in root.iterdir()) == ["vae"]
    assert library.entries("vae")[0].sha256 == hashlib.sha256(b"vae").hexdigest()


def test_fetching_a_modelscope_file_copies_it_into_the_library_and_records_hash_and_source(
    tmp_path: Path,
) -> None:
    # The hub is out of reach in tests: the repo is registered into the ModelScope cache with the existing
    # register_local_model, and fetched through modelscope's own model_file_download with local_files_only.
    repo = tmp_path / "repo"
    write(repo / "configuration.json", b"{}")
    write(repo / "sd15-tiny.safetensors", b"tiny weights")
    cache = tmp_path / "modelscope"
    register_local_model(repo, "acme/tiny-sd", "v1.0", cache)
    library = ModelLibrary([tmp_path / "models"])

    fetched = library.fetch_file(
        "acme/tiny-sd",
        "sd15-tiny.safetensors",
        "checkpoints",
        revision="v1.0",
        cache_dir=cache,
        local_files_only=True,
    )
    assert fetched.name == "sd15-tiny.safetensors"
    assert library.path("checkpoints", "sd15-tiny.safetensors").read_bytes() == b"tiny weights"
    (entry,) = library.entries("checkpoints")
    assert entry.sha256 == hashlib.sha256(b"tiny weights").hexdigest()
    assert entry.source == {"modelscope": "acme/tiny-sd", "revision": "v1.0", "file": "sd15-tiny.safetensors"}

    with pytest.raises(FileExistsError):
        library.fetch_file(
            "acme/tiny-sd",
            "sd15-tiny.safetensors",
            "checkpoints",
            revision="v1.0",
            cache_dir=cache,
            local_files_only=True,
        )
    with pytest.raises(Exception, match="v2"):  # a revision the cache does not hold is not silently replaced
        library.fetch_file(
            "acme/tiny-sd",
            "sd15-tiny.safetensors",
            "checkpoints",
            revision="v2",
            name="other.safetensors",
            cache_dir=cache,
            local_files_only=True,
        )
    assert library.list("checkpoints") == ["sd15-tiny.safetensors"]


def test_fetching_a_whole_repo_makes_a_diffusers_folder(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write(repo / "model_index.json", b"{}")
    write(repo / "vae" / "diffusion_pytorch_model.safetensors", b"vae")
    cache = tmp_path / "modelscope"
    register_local_model(repo, "acme/tiny-pipe", "main", cache)
    library = ModelLibrary([tmp_path / "models"])
    fetched = library.fetch_file(
        "acme/tiny-pipe", None, "diffusers", revision="main", cache_dir=cache, local_files_only=True
    )
    assert fetched.is_folder and library.list("diffusers") == ["tiny-pipe"]
    assert library.entries("diffusers")[0].source == {
        "modelscope": "acme/tiny-pipe",
        "revision": "main",
        "file": None,
    }
