"""What the backend gives the engine: the node registry, the cache store and option sources for a workspace."""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping
from functools import lru_cache

from django.conf import settings

from backend.accounts.models import Workspace
from backend.runs.files import upload_options
from nodepacks.sdk.inputs import MODEL_FILE_SOURCE
from workers.engine import CacheStore, MemoryCache, NodeRegistry
from workers.engine.validation import OptionSources
from workers.runtime.model_library import ModelLibrary
from workers.runtime.models import ModelManager

_memory_lock = threading.Lock()
_memory: MemoryCache | None = None
_models_lock = threading.Lock()
_models: ModelManager | None = None


@lru_cache(maxsize=4)
def _registry(modules: tuple[str, ...]) -> NodeRegistry:
    return NodeRegistry.from_modules(modules)


def registry_for_workspace(workspace: Workspace, pinned: Mapping[str, str] | None = None) -> NodeRegistry:
    """The node types a run in ``workspace`` may use: the packs of ``FLOWYARD_NODE_PACKS`` plus its installed
    pack versions, each isolated in its own environment (``pinned``: a workflow version's ``packs``, whose
    versions win while still available; see backend/registry/runtime.py)."""
    from backend.registry.runtime import load_packs

    return load_packs(workspace, pinned).registry


def option_sources_for_workspace(workspace: Workspace) -> OptionSources:
    """Validation's answer to "which values may a select with this ``source`` hold" in ``workspace``."""

    def options(source: str) -> Collection[str] | None:
        if source.startswith("uploads."):
            return upload_options(workspace, source.removeprefix("uploads."))
        if source.startswith("models."):
            return model_options(source.removeprefix("models."))
        if source.startswith(MODEL_FILE_SOURCE):
            return model_file_options(source.removeprefix(MODEL_FILE_SOURCE))
        return None

    return options


def worker_memory_cache() -> MemoryCache:
    """This process's in-memory tier of the cache (shared by every run the process executes)."""
    global _memory
    with _memory_lock:
        if _memory is None:
            _memory = MemoryCache()
        return _memory


def cache_store_for_worker(registry: NodeRegistry | None = None) -> CacheStore:
    """The cache a worker runs with: its memory tier in front of the shared database-and-blobs store.

    ``registry`` lets the shared store record which pack and version produced each entry.
    """
    from backend.cache.stores import DatabaseCacheStore, TieredCacheStore

    return TieredCacheStore(worker_memory_cache(), DatabaseCacheStore(registry=registry, flush_rows=200))


def model_library() -> ModelLibrary:
    """This machine's model library: ``FLOWYARD_MODELS_DIR`` plus ``FLOWYARD_EXTRA_MODEL_PATHS``."""
    return ModelLibrary([settings.FLOWYARD_MODELS_DIR], extra_paths=settings.FLOWYARD_EXTRA_MODEL_PATHS)


def worker_models() -> ModelManager:
    """This process's model manager (``MODELSCOPE_CACHE``, ``FLOWYARD_MODEL_MEMORY_BYTES``,
    ``FLOWYARD_MODEL_VRAM_BYTES``, the model library): built once, so models stay warm across the runs the process
    executes."""
    global _models
    with _models_lock:
        if _models is None:
            _models = ModelManager.from_env(library=model_library())
        return _models


def existing_worker_models() -> ModelManager | None:
    """The model manager if this process has built one (heartbeats must not build one just to look)."""
    return _models


def installed_packs() -> dict[str, str]:
    """The node packs workers load, with their versions: ``{name: version}``."""
    registry = _registry(tuple(settings.FLOWYARD_NODE_PACKS))
    return {name: pack.version for name, pack in sorted(registry.packs.items())}


def model_options(task: str) -> list[str] | None:
    """The model ids a ``models.<task>`` select may hold: what any live worker's (or this process's) local model
    cache holds for ``task``; None when nothing reports models, so validation cannot tell (the run then says
    which model is missing)."""
    from backend.workers_registry.catalog import known_models

    models = known_models()
    if not models:
        return None
    return sorted({model["model_id"] for model in models if not task or model.get("task") == task})


def model_file_options(kind: str) -> list[str] | None:
    """The names a ``modelfiles.<kind>`` select may hold: what any live worker's (or, embedded, this process's)
    model library lists in that folder; None when nothing reports a library, so validation cannot tell."""
    from backend.workers_registry.catalog import model_file_names

    return model_file_names(kind)
