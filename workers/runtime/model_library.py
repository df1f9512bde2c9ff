"""The site's model library: weight files in ComfyUI's folder layout, under one or more roots.

A root holds one folder per kind (``checkpoints``, ``loras``, ``vae``, ``diffusion_models`` or ``unet``, ...);
ComfyUI's ``extra_model_paths.yaml`` adds folders per kind, so an existing ComfyUI models folder can be used as
it is. Files are named relative to their kind folder with "/" (``sd15/model.safetensors``), as ComfyUI does.
Content hashes are remembered in a small JSON index per root, keyed on (relative path, size, mtime_ns), so a big
file is hashed once. Plain Python: no Django, no Celery; modelscope is imported only to fetch a file.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import json
import logging
import os
import shutil
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nodepacks.sdk import NodeError
from workers.runtime.modelscope_hub import (
    check_model_name,
    default_cache_dir,
    model_file_download,
    snapshot_download,
)

log = logging.getLogger(__name__)

MODELS_DIR_ENV = "FLOWYARD_MODELS_DIR"
EXTRA_PATHS_ENV = "FLOWYARD_EXTRA_MODEL_PATHS"
VAR_DIR_ENV = "FLOWYARD_VAR_DIR"
INDEX_FILE = ".flowyard-model-index.json"

MODEL_EXTENSIONS = frozenset({".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".sft", ".gguf"})
DIFFUSERS_MARKERS = ("model_index.json", "config.json")

# Kind -> the folder names that hold it under a root, the kind's own name first (ComfyUI's layout; "clip" and
# "unet" are the older names of text_encoders and diffusion_models, and still what many folders are called).
KIND_FOLDERS: dict[str, tuple[str, ...]] = {
    "checkpoints": ("checkpoints",),
    "diffusion_models": ("diffusion_models", "unet"),
    "text_encoders": ("text_encoders", "clip"),
    "clip_vision": ("clip_vision",),
    "vae": ("vae",),
    "loras": ("loras",),
    "upscale_models": ("upscale_models",),
    "latent_upscale_models": ("latent_upscale_models",),
    "embeddings": ("embeddings",),
    "controlnet": ("controlnet", "t2i_adapter"),
    "vae_approx": ("vae_approx",),
    "style_models": ("style_models",),
    "gligen": ("gligen",),
    "hypernetworks": ("hypernetworks",),
    "photomaker": ("photomaker",),
    "audio_encoders": ("audio_encoders",),
    "model_patches": ("model_patches",),
    "diffusers": ("diffusers",),
}
KIND_ALIASES: dict[str, str] = {
    "unet": "diffusion_models",
    "clip": "text_encoders",
    "t2i_adapter": "controlnet",
}


class ModelFileNotFound(NodeError):
    """A model file is not in the library (or its name is not allowed)."""


def canonical_kind(kind: str) -> str:
    """The library kind for ``kind`` (aliases such as ``unet`` and ``clip`` resolved); raises ``NodeError`` when
    ``kind`` is not a model folder."""
    kind = KIND_ALIASES.get(kind, kind)
    if kind not in KIND_FOLDERS:
        known = ", ".join(sorted([*KIND_FOLDERS, *KIND_ALIASES]))
        raise NodeError(f"{kind!r} is not a model folder (known: {known})")
    return kind


@dataclass(frozen=True)
class ModelFile:
    """One entry of a kind folder: a weights file or a diffusers folder."""

    kind: str
    name: str
    path: Path
    size_bytes: int
    is_folder: bool = False
    sha256: str | None = None
    source: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The entry as listed by ``/api/models`` and in worker heartbeats (no local path)."""
        return {
            "name": self.name,
            "size_bytes": self.size_bytes,
            "sha256": self.sha256,
            "source": self.source,
            "folder": self.is_folder,
        }


@dataclass
class _Folder:
    path: Path
    root: Path  # where the hash index lives; names in the index are relative to it


@dataclass
class _Index:
    path: Path
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    stamp: tuple[int, int] | None = None  # (size, mtime_ns) of the index file when read


# ---------------------------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------------------------


def default_models_dir() -> Path:
    """``FLOWYARD_MODELS_DIR``, else ``<FLOWYARD_VAR_DIR or ./var>/models`` (the embedded mode's data folder)."""
    raw = os.environ.get(MODELS_DIR_ENV, "").strip()
    if raw:
        return Path(raw).expanduser()
    return Path(os.environ.get(VAR_DIR_ENV, "").strip() or "var").expanduser() / "models"


def parse_extra_model_paths(path: Path | str) -> list[tuple[Path, dict[str, list[Path]]]]:
    """Read a ComfyUI ``extra_model_paths.yaml``: ``[(base, {kind: [folders]})]``, one per section.

    Each section has an optional ``base_path`` (relative to the file's folder) and per-kind folders relative to
    it, one or several (one per line). Keys that are not model kinds (``custom_nodes``, ``is_default``...) are
    ignored; ``clip``/``unet`` mean ``text_encoders``/``diffusion_models``.
    """
    import yaml

    source = Path(path).expanduser()
    try:
        data = yaml.safe_load(source.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{source}: cannot read extra model paths: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{source}: expected sections of kind: folder entries")
    sections: list[tuple[Path, dict[str, list[Path]]]] = []
    for name, section in data.items():
        if not isinstance(section, dict):
            continue
        base = Path(os.path.expandvars(str(section.get("base_path") or "."))).expanduser()
        if not base.is_absolute():
            base = source.parent / base
        folders: dict[str, list[Path]] = {}
        for key, value in section.items():
            kind = KIND_ALIASES.get(str(key), str(key))
            if kind not in KIND_FOLDERS or value is None:
                continue
            lines = value if isinstance(value, list) else str(value).splitlines()
            for line in lines:
                text = os.path.expandvars(str(line).strip())
                if text:
                    folder = Path(text).expanduser()
                    folders.setdefault(kind, []).append(folder if folder.is_absolute() else base / folder)
        if folders:
            sections.append((base, folders))
        else:
            log.info("%s: section %r names no model folders", source, name)
    return sections


# ---------------------------------------------------------------------------------------------------------------
# The library
# ---------------------------------------------------------------------------------------------------------------


class ModelLibrary:
    """Model files by kind under the library's roots; ``path``/``sha256`` for nodes, ``entries`` for listings.

    The first root is where fetched files go. Thread-safe.
    """

    def __init__(
        self,
        roots: Iterable[Path | str] = (),
        *,
        extra_paths: Iterable[Path | str] = (),
    ) -> None:
        self.roots = [Path(root).expanduser() for root in roots]
        self._folders: dict[str, builtins.list[_Folder]] = {kind: [] for kind in KIND_FOLDERS}
        for root in self.roots:
            for kind, names in KIND_FOLDERS.items():
                for name in names:
                    self._folders[kind].append(_Folder(root / name, root))
        for config in extra_paths:
            for base, kinds in parse_extra_model_paths(config):
                for kind, paths in kinds.items():
                    for folder in paths:
                        self._folders[kind].append(_Folder(folder, base))
        self._lock = threading.Lock()
        self._indexes: dict[Path, _Index] = {}

    @classmethod
    def from_env(cls) -> ModelLibrary:
        """A library at ``FLOWYARD_MODELS_DIR`` (default ``var/models``) plus the folders of the
        ``extra_model_paths.yaml`` file(s) that ``FLOWYARD_EXTRA_MODEL_PATHS`` names (``os.pathsep``-separated)."""
        extra = [part for part in os.environ.get(EXTRA_PATHS_ENV, "").split(os.pathsep) if part.strip()]
        return cls([default_models_dir()], extra_paths=extra)

    # -- lookup ---------------------------------------------------------------------------------------------

    def folders(self, kind: str) -> builtins.list[Path]:
        """The folders searched for ``kind``, in order."""
        return [folder.path for folder in self._folders[canonical_kind(kind)]]

    def kinds(self) -> builtins.list[str]:
        """Every kind the library knows (canonical names)."""
        return sorted(KIND_FOLDERS)

    def list(self, kind: str) -> builtins.list[str]:
        """Names of the model files and diffusers folders of ``kind``, sorted."""
        return [entry.name for entry in self.entries(kind, hashes=False)]

    def entries(self, kind: str, *, hashes: bool = True) -> builtins.list[ModelFile]:
        """The entries of ``kind`` (the first folder that has a name wins), with the hashes already known."""
        found: dict[str, ModelFile] = {}
        for folder in self._folders[canonical_kind(kind)]:
            for name, path, is_folder in _walk(folder.path):
                if name in found:
                    continue
                size = _tree_size(path) if is_folder else _size(path)
                sha = source = None
                if hashes:
                    known = self._known(folder, path)
                    if known is not None:
                        sha, source = known.get("sha256"), known.get("source")
                found[name] = ModelFile(canonical_kind(kind), name, path, size, is_folder, sha, source)
        return [found[name] for name in sorted(found)]

    def listing(self, kinds: Iterable[str] | None = None) -> dict[str, builtins.list[dict[str, Any]]]:
        """``{kind: [entry JSON]}`` for the kinds that have entries (what heartbeats and the API report)."""
        result: dict[str, builtins.list[dict[str, Any]]] = {}
        for kind in kinds if kinds is not None else self.kinds():
            entries = [entry.to_json() for entry in self.entries(kind)]
            if entries:
                result[canonical_kind(kind)] = entries
        return result

    def path(self, kind: str, name: str) -> Path:
        """The path of ``name`` in the ``kind`` folders; raises ``ModelFileNotFound`` naming the file and the
        folders searched, or refusing a name that walks out of them."""
        canonical = canonical_kind(kind)
        folders = self._folders[canonical]
        searched = ", ".join(str(folder.path) for folder in folders) or "(no folders configured)"
        if not isinstance(name, str) or not name.strip():
            raise ModelFileNotFound(f"no {canonical} model file chosen (folders: {searched})")
        parts = name.replace("\\", "/").split("/")
        if (
            name.startswith(("/", "\\"))
            or os.path.isabs(name)
            or ".." in parts
            or (len(name) > 1 and name[1] == ":")
        ):
            raise ModelFileNotFound(f"model file name {name!r} must be relative to the {canonical} folder")
        for folder in folders:
            candidate = folder.path.joinpath(*[part for part in parts if part not in ("", ".")])
            if not candidate.exists():
                continue
            if not _inside(candidate, folder.path):
                raise ModelFileNotFound(
                    f"model file {name!r} in {folder.path} links outside the model folders; refusing it"
                )
            if candidate.is_file() or _is_diffusers_folder(candidate):
                return candidate
        raise ModelFileNotFound(f"model file {name!r} is not in the {canonical} folders ({searched})")

    # -- hashes ---------------------------------------------------------------------------------------------

    def sha256(self, kind: str, name: str) -> str:
        """The content hash of ``name`` (a diffusers folder's: the hash of its files' names and hashes)."""
        path = self.path(kind, name)
        folder = self._folder_of(kind, path)
        if path.is_dir():
            lines = []
            for rel, file in _files_under(path):
                lines.append(f"{rel}\x00{self._file_hash(folder, file)}\n")
            return hashlib.sha256("".join(lines).encode()).hexdigest()
        return self._file_hash(folder, path)

    def record_source(self, kind: str, name: str, source: Mapping[str, Any]) -> str:
        """Hash ``name`` and remember where it came from (e.g. a ModelScope repo and revision); return the hash."""
        path = self.path(kind, name)
        folder = self._folder_of(kind, path)
        sha = self.sha256(kind, name)
        stat = _stamp(path)
        self._remember(
            folder, path, {"size": stat[0], "mtime_ns": stat[1], "sha256": sha, "source": dict(source)}
        )
        return sha

    def _folder_of(self, kind: str, path: Path) -> _Folder:
        for folder in self._folders[canonical_kind(kind)]:
            if _inside(path, folder.path):
                return folder
        raise ModelFileNotFound(f"{path} is not in a {kind} folder")

    def _known(self, folder: _Folder, path: Path) -> dict[str, Any] | None:
        entry = self._index(folder.root).entries.get(_rel(path, folder.root))
        if entry is None:
            return None
        if (entry.get("size"), entry.get("mtime_ns")) != tuple(_stamp(path)):
            return None
        return entry

    def _file_hash(self, folder: _Folder, path: Path) -> str:
        known = self._known(folder, path)
        if known is not None and isinstance(known.get("sha256"), str):
            return str(known["sha256"])
        before = _stamp(path)
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
        sha = digest.hexdigest()
        if _stamp(path) == before:  # changed while hashing: do not remember a hash of neither version
            previous = self._index(folder.root).entries.get(_rel(path, folder.root)) or {}
            self._remember(
                folder,
                path,
                {"size": before[0], "mtime_ns": before[1], "sha256": sha, "source": previous.get("source")},
            )
        return sha

    def _index(self, root: Path) -> _Index:
        index_path = root / INDEX_FILE
        with self._lock:
            index = self._indexes.get(root)
            if index is None:
                index = self._indexes[root] = _Index(index_path)
            stamp = _stamp_or_none(index_path)
            if stamp is not None and stamp != index.stamp:
                try:
                    loaded = json.loads(index_path.read_text())
                    entries = loaded.get("files") if isinstance(loaded, dict) else None
                    if isinstance(entries, dict):
                        index.entries.update(entries)
                except (OSError, ValueError):
                    log.warning("ignoring the unreadable model hash index %s", index_path)
                index.stamp = stamp
            return index

    def _remember(self, folder: _Folder, path: Path, entry: dict[str, Any]) -> None:
        index = self._index(folder.root)
        with self._lock:
            index.entries[_rel(path, folder.root)] = entry
            # Read-merge-write, renamed into place: other processes may have added hashes meanwhile.
            merged: dict[str, Any] = {}
            with contextlib.suppress(OSError, ValueError):
                loaded = json.loads(index.path.read_text())
                if isinstance(loaded, dict) and isinstance(loaded.get("files"), dict):
                    merged.update(loaded["files"])
            merged.update(index.entries)
            index.entries = merged
            tmp = index.path.with_name(f"{INDEX_FILE}.{uuid.uuid4().hex}.tmp")
            try:
                index.path.parent.mkdir(parents=True, exist_ok=True)
                tmp.write_text(json.dumps({"version": 1, "files": merged}, indent=1, sort_keys=True))
                os.replace(tmp, index.path)
                index.stamp = _stamp_or_none(index.path)
            except OSError as exc:  # a read-only ComfyUI folder: the hash stays remembered in memory only
                log.info("cannot write the model hash index %s: %s", index.path, exc)
                with contextlib.suppress(OSError):
                    tmp.unlink()

    # -- fetching -------------------------------------------------------------------------------------------

    def fetch_file(
        self,
        repo_id: str,
        file: str | None,
        kind: str,
        *,
        revision: str,
        name: str | None = None,
        cache_dir: Path | None = None,
        local_files_only: bool = False,
        overwrite: bool = False,
    ) -> ModelFile:
        """Fetch ``file`` of ModelScope repo ``repo_id`` at ``revision`` (``file`` None: the whole repo, as a
        diffusers folder) into the first root's ``kind`` folder as ``name``; record its hash and source.

        Goes through modelscope's ``model_file_download``/``snapshot_download`` with the revision pinned and the
        shared model cache (``MODELSCOPE_CACHE``), then copies (hard-links where it can) into the library.
        """
        check_model_name(repo_id, revision)
        if not self.roots:
            raise ValueError("the model library has no root to fetch into")
        canonical = canonical_kind(kind)
        cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        target_name = name or (Path(file).name if file else repo_id.split("/", 1)[1])
        parts = target_name.replace("\\", "/").split("/")
        if os.path.isabs(target_name) or ".." in parts or not target_name.strip():
            raise ValueError(f"{target_name!r} is not a plain file name")
        folder = self.roots[0] / KIND_FOLDERS[canonical][0]
        target = folder.joinpath(*parts)
        if target.exists() and not overwrite:
            raise FileExistsError(f"{target} already exists")
        if file is not None:
            downloaded = Path(
                model_file_download(
                    repo_id, file, revision=revision, cache_dir=str(cache), local_files_only=local_files_only
                )
            )
        else:
            downloaded = Path(
                snapshot_download(
                    repo_id, revision=revision, cache_dir=str(cache), local_files_only=local_files_only
                )
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        incoming = target.with_name(f".incoming-{uuid.uuid4().hex}")
        if downloaded.is_dir():
            shutil.copytree(downloaded, incoming, copy_function=_link_or_copy)
        else:
            _link_or_copy(str(downloaded), str(incoming))
        if target.exists():
            if target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink()
        incoming.rename(target)
        source = {"modelscope": repo_id, "revision": revision, "file": file}
        sha = self.record_source(canonical, "/".join(parts), source)
        log.info("fetched %s@%s %s into %s (sha256 %s)", repo_id, revision, file or "(repo)", target, sha)
        size = _tree_size(target) if target.is_dir() else _size(target)
        return ModelFile(canonical, "/".join(parts), target, size, target.is_dir(), sha, source)


def _link_or_copy(src: str, dst: str) -> str:
    # The modelscope cache and the library are often one filesystem: a hard link costs no space. The cache file
    # is never written in place (downloads are renamed in), so sharing its inode is safe.
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst


# ---------------------------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------------------------


def _walk(top: Path) -> Iterator[tuple[str, Path, bool]]:
    """(name relative to ``top`` with "/", path, is a diffusers folder) for every model entry under ``top``."""
    if not top.is_dir():
        return
    real_top = os.path.realpath(top)
    for dirpath, dirnames, filenames in os.walk(top, followlinks=True):
        if not _inside(Path(dirpath), Path(real_top)):
            dirnames[:] = []
            continue
        rel_dir = os.path.relpath(dirpath, top)
        kept = []
        for dirname in sorted(dirnames):
            if dirname.startswith("."):
                continue
            full = Path(dirpath) / dirname
            if _is_diffusers_folder(full):
                if _inside(full, Path(real_top)):
                    yield _join(rel_dir, dirname), full, True
            else:
                kept.append(dirname)
        dirnames[:] = kept
        for filename in sorted(filenames):
            if filename.startswith(".") or Path(filename).suffix.lower() not in MODEL_EXTENSIONS:
                continue
            full = Path(dirpath) / filename
            if _inside(full, Path(real_top)):
                yield _join(rel_dir, filename), full, False


def _join(rel_dir: str, name: str) -> str:
    return name if rel_dir == "." else f"{rel_dir.replace(os.sep, '/')}/{name}"


def _is_diffusers_folder(path: Path) -> bool:
    return path.is_dir() and any((path / marker).is_file() for marker in DIFFUSERS_MARKERS)


def _inside(path: Path, folder: Path) -> bool:
    real = os.path.realpath(path)
    base = os.path.realpath(folder)
    return real == base or real.startswith(base.rstrip(os.sep) + os.sep)


def _files_under(path: Path) -> list[tuple[str, Path]]:
    found = []
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for filename in sorted(filenames):
            if not filename.startswith("."):
                full = Path(dirpath) / filename
                found.append((full.relative_to(path).as_posix(), full))
    return found


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def _stamp_or_none(path: Path) -> tuple[int, int] | None:
    try:
        return _stamp(path)
    except OSError:
        return None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _tree_size(path: Path) -> int:
    return sum(_size(file) for _rel_name, file in _files_under(path))
