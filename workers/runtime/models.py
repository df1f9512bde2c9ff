"""The worker's model manager: ModelScope models from the shared local model cache, kept warm in memory.

Models are named by ModelScope model id (``owner/name``) and revision (a branch, tag or commit; ``master`` by
default). They are resolved through modelscope's own ``snapshot_download`` against the local cache
(``MODELSCOPE_CACHE``, laid out as ``models/<owner>--<name>/snapshots/<revision>/``), offline unless the
manager may fetch. The manager also serves the model library's files (``file``/``sha256``, see model_library.py)
and keeps any warm object a node builds from them (``cached``). Everything loaded stays warm in one LRU bounded by
a RAM and a VRAM budget (docs/models.md "Memory"). Plain Python: no Django, no Celery; modelscope and torch are
imported only when a model is resolved or loaded.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import json
import logging
import os
import shutil
import sys
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from nodepacks.sdk import NodeError
from workers.runtime.model_library import ModelLibrary

# The names and the cache location shared with the model library live in modelscope_hub; they stay importable
# from here, where callers have always found them.
from workers.runtime.modelscope_hub import CACHE_ENV as CACHE_ENV
from workers.runtime.modelscope_hub import DEFAULT_REVISION as DEFAULT_REVISION
from workers.runtime.modelscope_hub import ModelNotAvailable as ModelNotAvailable
from workers.runtime.modelscope_hub import check_model_name as check_model_name
from workers.runtime.modelscope_hub import default_cache_dir as default_cache_dir
from workers.runtime.modelscope_hub import snapshot_download

log = logging.getLogger(__name__)

MEMORY_ENV = "FLOWYARD_MODEL_MEMORY_BYTES"
VRAM_ENV = "FLOWYARD_MODEL_VRAM_BYTES"
DEFAULT_VRAM_SHARE = 0.9
DEFAULT_MEMORY_BUDGET = 4 << 30
CONFIGURATION_FILE = "configuration.json"

Loader = Callable[[Path, "str | None", Mapping[str, Any]], Any]


class ModelLoadError(NodeError):
    """The model's files are there but modelscope could not load them."""


@dataclass(frozen=True)
class LocalModel:
    """A model the local cache holds: id, revision, directory, size on disk and what its configuration says."""

    model_id: str
    revision: str
    path: Path
    size_bytes: int
    task: str | None = None
    framework: str | None = None
    layout: str = "snapshots"  # snapshots | legacy (an old modelscope layout that serves every revision)

    def to_json(self) -> dict[str, Any]:
        """The model as listed to admins and in worker heartbeats."""
        return {
            "model_id": self.model_id,
            "revision": self.revision,
            "path": str(self.path),
            "size_bytes": self.size_bytes,
            "task": self.task,
            "framework": self.framework,
            "layout": self.layout,
        }


@dataclass(frozen=True)
class WarmModel:
    """A model or warm object in memory: what it is, where it lives, what it costs and when it was last used.

    ``kind`` is ``modelscope`` (a ModelScope model by id, ``get``) or ``object`` (anything a node keeps warm with
    ``cached``: a diffusion network, a text encoder, a VAE...; ``model_id`` is then its cache key).
    """

    model_id: str
    revision: str
    task: str | None
    path: Path | None
    size_bytes: int
    load_seconds: float
    last_used: float
    kind: str = "modelscope"
    device: str = "cpu"

    @property
    def key(self) -> str:
        """The name the manager holds it under: ``model_id@revision``, or the ``cached`` key."""
        return self.model_id if self.kind == "object" else f"{self.model_id}@{self.revision}"

    def to_json(self) -> dict[str, Any]:
        """The warm model as reported in worker heartbeats."""
        return {
            "kind": self.kind,
            "key": self.key,
            "device": self.device,
            "model_id": self.model_id,
            "revision": self.revision,
            "task": self.task,
            "path": None if self.path is None else str(self.path),
            "size_bytes": self.size_bytes,
            "load_seconds": round(self.load_seconds, 4),
            "last_used": self.last_used,
        }


# ---------------------------------------------------------------------------------------------------------------
# Names, the cache layout and resolution
# ---------------------------------------------------------------------------------------------------------------


def _bytes_from_env(name: str) -> int | None:
    """A byte count from the environment variable ``name``, or None when it is unset or empty."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a whole number of bytes") from None
    if value < 0:
        raise ValueError(f"{name}={raw!r} must not be negative")
    return value


def memory_budget_from_env(default: int = DEFAULT_MEMORY_BUDGET) -> int:
    """The warm-model memory budget in bytes: ``FLOWYARD_MODEL_MEMORY_BYTES``, else ``default``."""
    value = _bytes_from_env(MEMORY_ENV)
    return default if value is None else value


def snapshot_dir(cache_dir: Path, model_id: str, revision: str = DEFAULT_REVISION) -> Path:
    """Where modelscope keeps ``model_id`` at ``revision`` in ``cache_dir``."""
    return cache_dir / "models" / model_id.replace("/", "--") / "snapshots" / revision


def legacy_dirs(cache_dir: Path, model_id: str) -> list[Path]:
    """Old-layout (modelscope <= 1.37) copies of ``model_id`` that modelscope still serves for every revision."""
    owner, name = model_id.split("/", 1)
    safe_name = name.replace(".", "___")
    candidates = (cache_dir / "models" / owner / safe_name, cache_dir / "hub" / "models" / owner / safe_name)
    return [path for path in candidates if _has_entries(path)]


def _snapshot_download(model_id: str, **kwargs: Any) -> str:
    # One seam for modelscope's resolver, so tests can check the arguments fetch_model passes.
    return snapshot_download(model_id, **kwargs)


def _fetch_hint(model_id: str, revision: str) -> str:
    return (
        f"an admin can fetch it with `flowyard models fetch {model_id} --revision {revision}` on a machine "
        f"that reaches the model hub, or register a local copy with "
        f"`flowyard models register DIR {model_id} --revision {revision}`"
    )


def resolve_model_dir(
    model_id: str, revision: str | None = None, cache_dir: Path | None = None, *, allow_fetch: bool = False
) -> Path:
    """Return the local directory of ``model_id`` at ``revision`` (None: master, main, or the only one cached).

    Resolution is modelscope's own (``snapshot_download``), with ``local_files_only=True`` unless
    ``allow_fetch``. Raises ``ModelNotAvailable`` naming the model, the revision and the cache path.
    """
    check_model_name(model_id, revision)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    shown = revision or DEFAULT_REVISION
    try:
        return Path(
            _snapshot_download(
                model_id, revision=revision, cache_dir=str(cache), local_files_only=not allow_fetch
            )
        )
    except Exception as exc:
        expected = snapshot_dir(cache, model_id, shown)
        if allow_fetch:
            raise ModelNotAvailable(
                f"model {model_id!r} at revision {shown!r} is not in the local model cache at {expected} and "
                f"could not be fetched: {exc}"
            ) from exc
        raise ModelNotAvailable(
            f"model {model_id!r} at revision {shown!r} is not in the local model cache at {expected}; "
            f"{_fetch_hint(model_id, shown)}"
        ) from exc


def fetch_model(model_id: str, revision: str = DEFAULT_REVISION, cache_dir: Path | None = None) -> Path:
    """Download ``model_id`` at ``revision`` from the model hub into the cache (needs a network); return its dir."""
    check_model_name(model_id, revision)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return Path(_snapshot_download(model_id, revision=revision, cache_dir=str(cache)))


def register_local_model(
    source_dir: Path | str,
    model_id: str,
    revision: str = DEFAULT_REVISION,
    cache_dir: Path | None = None,
    *,
    hardlink: bool = False,
    overwrite: bool = False,
) -> Path:
    """Copy (or hard-link) a local model directory into the cache where modelscope finds ``model_id``@``revision``.

    Returns the snapshot directory. The copy is assembled beside the cache entry and renamed into place, so a
    worker resolving the model never sees half of it. Raises ``FileExistsError`` when that revision is already
    registered (unless ``overwrite``) and ``ValueError`` when an old-layout copy would shadow it.
    """
    source = Path(source_dir)
    if not source.is_dir() or not _has_entries(source):
        raise ValueError(f"{source}: not a directory with model files")
    check_model_name(model_id, revision)
    if not (source / CONFIGURATION_FILE).is_file():
        log.warning(
            "%s has no %s: modelscope's Model.from_pretrained will not load it", source, CONFIGURATION_FILE
        )
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    shadows = legacy_dirs(cache, model_id)
    if shadows:
        raise ValueError(
            f"model {model_id!r}: an old-layout copy at {shadows[0]} is what modelscope serves for every "
            "revision; remove it before registering revisions"
        )
    target = snapshot_dir(cache, model_id, revision)
    if _has_entries(target) and not overwrite:
        raise FileExistsError(
            f"model {model_id!r} at revision {revision!r} is already registered at {target}"
        )
    repo_root = target.parent.parent
    repo_root.mkdir(parents=True, exist_ok=True)
    incoming = repo_root / f".incoming-{uuid.uuid4().hex}"
    copy = _link_or_copy if hardlink else shutil.copy2
    shutil.copytree(source, incoming, copy_function=copy)
    target.parent.mkdir(parents=True, exist_ok=True)
    retired = repo_root / f".retired-{uuid.uuid4().hex}"
    if target.exists():
        target.rename(retired)
    incoming.rename(target)
    if retired.exists():
        shutil.rmtree(retired, ignore_errors=True)
    log.info("registered %s@%s at %s", model_id, revision, target)
    return target


def _link_or_copy(src: str, dst: str) -> str:
    try:
        os.link(src, dst)
    except OSError:  # another filesystem, or links not allowed
        shutil.copy2(src, dst)
    return dst


def scan_local_models(cache_dir: Path | None = None) -> list[LocalModel]:
    """List the models the local cache can serve, sorted by id and revision (no network, no modelscope import)."""
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    found: list[LocalModel] = []
    models_root = cache / "models"
    for repo in _subdirs(models_root):
        if "--" in repo.name:  # models/<owner>--<name>/snapshots/<revision>/
            model_id = repo.name.replace("--", "/", 1)
            for snapshot in _subdirs(repo / "snapshots"):
                if _has_entries(snapshot):
                    found.append(_local_model(model_id, snapshot.name, snapshot, "snapshots"))
    for root in (models_root, cache / "hub" / "models"):  # models/<owner>/<name with . as ___>/
        for owner in _subdirs(root):
            if "--" in owner.name:
                continue
            for repo in _subdirs(owner):
                if _has_entries(repo):
                    model_id = f"{owner.name}/{repo.name.replace('___', '.')}"
                    found.append(_local_model(model_id, DEFAULT_REVISION, repo, "legacy"))
    return sorted(found, key=lambda model: (model.model_id, model.revision, model.layout))


def _local_model(model_id: str, revision: str, path: Path, layout: str) -> LocalModel:
    task = framework = None
    try:
        config = json.loads((path / CONFIGURATION_FILE).read_text())
        if isinstance(config, dict):
            task = config.get("task") if isinstance(config.get("task"), str) else None
            framework = config.get("framework") if isinstance(config.get("framework"), str) else None
    except (OSError, ValueError):
        pass
    return LocalModel(model_id, revision, path, directory_size(path), task, framework, layout)


def _subdirs(path: Path) -> Iterator[Path]:
    try:
        entries = sorted(path.iterdir())
    except OSError:
        return
    for entry in entries:
        if entry.is_dir() and not entry.name.startswith("."):
            yield entry


def _has_entries(path: Path) -> bool:
    try:
        return path.is_dir() and any(path.iterdir())
    except OSError:
        return False


def directory_size(path: Path) -> int:
    """Total bytes of the files under ``path`` (symlinks followed, as loading reads them)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.stat(os.path.join(root, name)).st_size
    return total


# ---------------------------------------------------------------------------------------------------------------
# Loading and sizing
# ---------------------------------------------------------------------------------------------------------------


def load_modelscope_model(model_dir: Path, task: str | None, options: Mapping[str, Any]) -> Any:
    """Load a model directory with modelscope: ``pipeline(task, model=dir)`` for a task, else ``Model.from_pretrained``."""
    kwargs = dict(options)
    if "use_hf" not in kwargs and importlib.util.find_spec("transformers") is None:
        # Without transformers modelscope's automatic choice crashes on models outside its own index.
        kwargs["use_hf"] = False
    if task:
        from modelscope.pipelines import pipeline

        return pipeline(task, model=str(model_dir), **kwargs)
    from modelscope.models import Model

    return Model.from_pretrained(str(model_dir), **kwargs)


def estimate_model_bytes(model: Any, model_dir: Path) -> int:
    """Bytes a loaded model holds: torch parameters and buffers when it is (or wraps) a torch module, else the
    size of its directory on disk."""
    torch = sys.modules.get("torch")
    if torch is not None:
        modules = [m for m in _candidate_modules(model) if isinstance(m, torch.nn.Module)]
        if modules:
            tensors: dict[int, Any] = {}
            for module in modules:
                for tensor in (*module.parameters(), *module.buffers()):
                    tensors[id(tensor)] = tensor
            return sum(t.numel() * t.element_size() for t in tensors.values())
    return directory_size(model_dir)


def _candidate_modules(model: Any) -> list[Any]:
    # A pipeline holds its model(s) in .model / .models; a modelscope Model may itself be the torch module.
    found = [model]
    for attr in ("model", "models"):
        value = getattr(model, attr, None)
        if isinstance(value, list | tuple):
            found.extend(value)
        elif value is not None:
            found.append(value)
    return found


def _release_memory(*, collect: bool = False) -> None:
    # Dropping the last reference frees a model's CPU tensors; a full collection (~0.5 s with torch loaded)
    # is worth it only to hand GPU memory back, or when asked to recover from running out of memory.
    torch = sys.modules.get("torch")
    cuda = torch.cuda if torch is not None and torch.cuda.is_available() else None
    if collect or cuda is not None:
        gc.collect()
    if cuda is not None:
        cuda.empty_cache()


# ---------------------------------------------------------------------------------------------------------------
# The manager
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Key:
    model_id: str
    path: str
    task: str | None
    options: str


@dataclass(frozen=True)
class _ObjectKey:
    key: str


@dataclass
class _Entry:
    model: Any
    info: WarmModel
    home: str | None = (
        None  # the torch device a warm object was loaded on; it can be offloaded and brought back
    )


@dataclass
class _Pending:
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


def vram_budget_from_env() -> int | None:
    """The warm-object GPU memory budget: ``FLOWYARD_MODEL_VRAM_BYTES``, else None (90% of the device's memory,
    decided once a GPU is in use)."""
    return _bytes_from_env(VRAM_ENV)


def _default_vram_budget() -> int:
    # Only asked once something sits on a GPU, so torch is imported already (asking costs nothing then).
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return 0
    return int(
        torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory * DEFAULT_VRAM_SHARE
    )


def torch_modules_of(value: Any) -> list[Any]:
    """The torch modules ``value`` is or directly holds (attributes, list/tuple/dict items), without duplicates."""
    torch = sys.modules.get("torch")
    if torch is None:
        return []
    module_type = torch.nn.Module
    if isinstance(value, module_type):
        return [value]
    children: list[Any] = list(_candidate_modules(value)[1:])
    if isinstance(value, list | tuple):
        children.extend(value)
    elif isinstance(value, dict):
        children.extend(value.values())
    else:
        with contextlib.suppress(TypeError):
            children.extend(vars(value).values())
    found: dict[int, Any] = {}
    for child in children:
        if isinstance(child, module_type):
            found.setdefault(id(child), child)
    return list(found.values())


def _to_device(modules: list[Any], device: str) -> None:
    for module in modules:
        module.to(device)


def _device_of(modules: list[Any]) -> str:
    for module in modules:
        for tensor in (*module.parameters(), *module.buffers()):
            return str(tensor.device)
    return "cpu"


def _object_bytes(value: Any, modules: list[Any]) -> int:
    if modules:
        tensors: dict[int, Any] = {}
        for module in modules:
            for tensor in (*module.parameters(), *module.buffers()):
                tensors[id(tensor)] = tensor
        return sum(t.numel() * t.element_size() for t in tensors.values())
    nbytes = getattr(value, "nbytes", None)  # numpy arrays, tensors
    return int(nbytes) if isinstance(nbytes, int) else 0


def _on_gpu(device: str) -> bool:
    return device.startswith("cuda")


class ModelManager:
    """Hands out warm models (the SDK's ``ModelProvider``): ModelScope models by id (``get``), model library files
    (``file``/``sha256``) and any warm object a node builds from them (``cached``), in one LRU.

    Thread-safe: concurrent requests for one model or key wait for a single load, different ones load in
    parallel. Two budgets: RAM (``memory_budget_bytes``) for what sits on the CPU, VRAM (``vram_budget_bytes``)
    for what sits on a GPU. When VRAM is short the least recently used torch modules are moved to the CPU (and
    moved back when asked for again); what does not fit in RAM either is dropped. For ``get``, options other
    than ``task`` are passed to modelscope's loader (e.g. ``device="cpu"``) and are part of the model's identity.
    """

    def __init__(
        self,
        cache_dir: Path | None = None,
        *,
        memory_budget_bytes: int | None = None,
        vram_budget_bytes: int | None = None,
        allow_fetch: bool = False,
        loader: Loader | None = None,
        library: ModelLibrary | None = None,
    ) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.memory_budget_bytes = (
            memory_budget_from_env() if memory_budget_bytes is None else int(memory_budget_bytes)
        )
        if self.memory_budget_bytes < 0:
            raise ValueError("memory_budget_bytes must not be negative")
        self._vram_budget = vram_budget_from_env() if vram_budget_bytes is None else int(vram_budget_bytes)
        if self._vram_budget is not None and self._vram_budget < 0:
            raise ValueError("vram_budget_bytes must not be negative")
        self.allow_fetch = allow_fetch
        self._loader: Loader = loader or load_modelscope_model
        self._library = library
        self._lock = threading.Lock()
        self._warm: OrderedDict[_Key | _ObjectKey, _Entry] = OrderedDict()
        self._loading: dict[_Key | _ObjectKey, _Pending] = {}

    @classmethod
    def from_env(cls, *, allow_fetch: bool = False, library: ModelLibrary | None = None) -> ModelManager:
        """A manager configured by ``MODELSCOPE_CACHE``, ``FLOWYARD_MODEL_MEMORY_BYTES``,
        ``FLOWYARD_MODEL_VRAM_BYTES`` and (for the library) ``FLOWYARD_MODELS_DIR``/``FLOWYARD_EXTRA_MODEL_PATHS``."""
        return cls(allow_fetch=allow_fetch, library=library)

    @property
    def library(self) -> ModelLibrary:
        """The model library ``file``/``sha256`` read (``ModelLibrary.from_env()`` unless one was given)."""
        if self._library is None:
            self._library = ModelLibrary.from_env()
        return self._library

    @property
    def vram_budget_bytes(self) -> int:
        """Bytes warm objects may hold on GPUs (default: 90% of the device's memory; 0 without a GPU)."""
        if self._vram_budget is None:
            self._vram_budget = _default_vram_budget()
        return self._vram_budget

    # -- the model library ----------------------------------------------------------------------------------

    def file(self, kind: str, name: str) -> Path:
        """The path of library file ``name`` in folder ``kind``; raises ``NodeError`` naming the folders searched."""
        return self.library.path(kind, name)

    def sha256(self, kind: str, name: str) -> str:
        """The content hash of library file ``name`` (remembered by path, size and modification time)."""
        return self.library.sha256(kind, name)

    def available_files(self) -> dict[str, list[dict[str, Any]]]:
        """The library's entries by kind (for heartbeats and ``/api/models``)."""
        return self.library.listing()

    # -- warm objects ---------------------------------------------------------------------------------------

    def cached(self, key: str, load: Callable[[], Any], *, size_bytes: int | None = None) -> Any:
        """Return the warm object under ``key``, calling ``load()`` once on a miss (concurrent callers wait for
        it). Its size is ``size_bytes``, else its torch modules' parameters and buffers."""
        slot = _ObjectKey(key)
        return self._warm_or_load(slot, lambda pending: self._load_object(slot, pending, load, size_bytes))

    def _warm_or_load(self, key: Any, load: Callable[[_Pending], Any]) -> Any:
        """The warm entry under ``key``, or ``load(pending)`` by exactly one caller while the others wait for it
        (and look again: the loaded entry may already have been evicted)."""
        while True:
            with self._lock:
                entry = self._hit(key)
                if entry is not None:
                    return entry.model
                pending = self._loading.get(key)
                owner = pending is None
                if pending is None:
                    pending = self._loading[key] = _Pending()
            if owner:
                return load(pending)
            self._wait(pending)

    def _load_object(
        self, slot: _ObjectKey, pending: _Pending, load: Callable[[], Any], size_bytes: int | None
    ) -> Any:
        started = time.perf_counter()
        try:
            value = load()
            modules = torch_modules_of(value)
            size = int(size_bytes) if size_bytes is not None else _object_bytes(value, modules)
            device = _device_of(modules) if modules else "cpu"
        except BaseException as exc:
            with self._lock:
                pending.error = exc
                del self._loading[slot]
            pending.done.set()
            raise
        seconds = time.perf_counter() - started
        info = WarmModel(slot.key, "", None, None, size, seconds, time.time(), kind="object", device=device)
        entry = _Entry(value, info, home=device if modules else None)
        self._store(slot, pending, entry)
        log.info("loaded warm object %s on %s in %.2fs, %d bytes", slot.key, device, seconds, size)
        return value

    def _hit(self, slot: _Key | _ObjectKey) -> _Entry | None:
        # Under the lock. An offloaded object goes back to the device it was loaded on (and may offload others).
        entry = self._warm.get(slot)
        if entry is None:
            return None
        self._warm.move_to_end(slot)
        if entry.home is not None and entry.info.device != entry.home:
            self._move(entry, entry.home)
            self._settle(keep=slot)
        entry.info = replace(entry.info, last_used=time.time())
        return entry

    def _wait(self, pending: _Pending) -> None:
        pending.done.wait()
        error = pending.error
        if error is None:
            return  # loaded (and perhaps already evicted again): look again
        try:
            copy = type(error)(*error.args)
        except Exception:
            raise error from None
        raise copy from error

    def _store(self, slot: _Key | _ObjectKey, pending: _Pending, entry: _Entry) -> None:
        with self._lock:
            self._warm[slot] = entry
            dropped = self._settle(keep=slot)
            del self._loading[slot]
        pending.done.set()
        if dropped:
            log.info(
                "unloaded %s to stay within %d bytes of RAM and %d of VRAM",
                ", ".join(dropped),
                self.memory_budget_bytes,
                self._vram_budget or 0,
            )
            _release_memory()

    def _move(self, entry: _Entry, device: str) -> None:
        _to_device(torch_modules_of(entry.model), device)
        entry.info = replace(entry.info, device=device)

    def _settle(self, keep: _Key | _ObjectKey) -> list[str]:
        """Offload and drop least recently used entries until both budgets hold; return what was dropped."""
        dropped: list[str] = []
        if any(_on_gpu(entry.info.device) for entry in self._warm.values()):
            budget = self.vram_budget_bytes
            while self._bytes(gpu=True) > budget:
                victim = next(
                    (k for k, e in self._warm.items() if k != keep and _on_gpu(e.info.device)), None
                )
                if victim is None:
                    log.warning(
                        "%s needs more than the whole VRAM budget (%d bytes); keeping it alone on the GPU",
                        self._warm[keep].info.key,
                        budget,
                    )
                    break
                entry = self._warm[victim]
                if entry.home is not None:
                    log.info("offloading %s to the CPU: VRAM budget %d bytes", entry.info.key, budget)
                    self._move(entry, "cpu")
                else:
                    del self._warm[victim]
                    dropped.append(entry.info.key)
        while self._bytes(gpu=False) > self.memory_budget_bytes:
            victim = next(
                (k for k, e in self._warm.items() if k != keep and not _on_gpu(e.info.device)), None
            )
            if victim is None:
                if keep in self._warm and not _on_gpu(self._warm[keep].info.device):
                    log.warning(
                        "%s needs %d bytes, more than the whole model memory budget (%d bytes); keeping it alone",
                        self._warm[keep].info.key,
                        self._warm[keep].info.size_bytes,
                        self.memory_budget_bytes,
                    )
                break
            dropped.append(self._warm.pop(victim).info.key)
        return dropped

    def _bytes(self, *, gpu: bool) -> int:
        return sum(e.info.size_bytes for e in self._warm.values() if _on_gpu(e.info.device) == gpu)

    # -- ModelScope models ----------------------------------------------------------------------------------

    def resolve(self, model_id: str, revision: str | None = None) -> Path:
        """The local directory of ``model_id`` at ``revision``; raises ``ModelNotAvailable``."""
        return resolve_model_dir(model_id, revision, self.cache_dir, allow_fetch=self.allow_fetch)

    def get(self, model_id: str, revision: str | None = None, **options: Any) -> Any:
        """Return the loaded model (a modelscope pipeline when ``task=`` is given), loading it on first use."""
        task = options.pop("task", None) or None
        path = self.resolve(model_id, revision)
        key = _Key(model_id, str(path), task, json.dumps(options, sort_keys=True, default=repr))
        revision_name = _revision_of(path, revision)
        return self._warm_or_load(
            key, lambda pending: self._load(key, pending, model_id, revision_name, task, options)
        )

    def _load(
        self,
        key: _Key,
        pending: _Pending,
        model_id: str,
        revision: str,
        task: str | None,
        options: Mapping[str, Any],
    ) -> Any:
        path = Path(key.path)
        started = time.perf_counter()
        try:
            model = self._loader(path, task, options)
            size = estimate_model_bytes(model, path)
            device = _device_of(torch_modules_of(model))
        except BaseException as exc:
            error = (
                exc
                if isinstance(exc, NodeError) or not isinstance(exc, Exception)
                else ModelLoadError(_load_failure(model_id, revision, path, exc))
            )
            with self._lock:
                pending.error = error
                del self._loading[key]
            pending.done.set()
            if error is exc:
                raise
            raise error from exc
        seconds = time.perf_counter() - started
        # A pipeline keeps its own idea of its device: ModelScope models are dropped, never offloaded.
        info = WarmModel(model_id, revision, task, path, size, seconds, time.time(), device=device)
        self._store(key, pending, _Entry(model, info))
        log.info("loaded %s@%s (%s) in %.2fs, %d bytes", model_id, revision, task or "model", seconds, size)
        return model

    # -- what is warm, and letting go -----------------------------------------------------------------------

    @property
    def warm_bytes(self) -> int:
        """Estimated bytes held by the warm models and objects (RAM and VRAM together)."""
        with self._lock:
            return sum(entry.info.size_bytes for entry in self._warm.values())

    def warm_models(self) -> list[WarmModel]:
        """The loaded models and warm objects, least recently used first."""
        with self._lock:
            return [entry.info for entry in self._warm.values()]

    def available_models(self) -> list[LocalModel]:
        """The models the local cache can load."""
        return scan_local_models(self.cache_dir)

    def unload(self, model_id: str, revision: str | None = None) -> int:
        """Drop every warm instance of ``model_id`` (at ``revision``, or all revisions); return how many."""
        with self._lock:
            victims = [
                key
                for key, entry in self._warm.items()
                if isinstance(key, _Key)
                and key.model_id == model_id
                and (revision is None or entry.info.revision == revision)
            ]
            for key in victims:
                del self._warm[key]
        if victims:
            _release_memory()
        return len(victims)

    def free_all(self) -> int:
        """Unload every warm model and object (out-of-memory recovery); return how many were dropped."""
        with self._lock:
            count = len(self._warm)
            self._warm.clear()
        _release_memory(collect=True)
        return count


def _revision_of(path: Path, requested: str | None) -> str:
    if path.parent.name == "snapshots":
        return path.name
    return requested or DEFAULT_REVISION


def _load_failure(model_id: str, revision: str, path: Path, exc: BaseException) -> str:
    reason = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, ImportError):
        reason += " (loading ModelScope torch models needs torch: pip install 'flowyard[models]')"
    return f"model {model_id!r} at revision {revision!r} could not be loaded from {path}: {reason}"
