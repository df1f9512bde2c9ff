"""This worker process's own state: the in-memory cache tier, the model manager and the node packs it loads.

Built once per process and shared by every run the process executes (models stay warm, cache entries stay in
memory); the heartbeat reports from here (backend/workers_registry/heartbeat.py) and runs execute with it
(backend/runs/execution.py). Nothing here knows about runs or workspaces.
"""

from __future__ import annotations

import threading
from functools import lru_cache

from django.conf import settings

from workers.engine import CacheStore, MemoryCache, NodeRegistry
from workers.runtime.model_library import ModelLibrary
from workers.runtime.models import ModelManager

_memory_lock = threading.Lock()
_memory: MemoryCache | None = None
_models_lock = threading.Lock()
_models: ModelManager | None = None


@lru_cache(maxsize=4)
def _registry(modules: tuple[str, ...]) -> NodeRegistry:
    return NodeRegistry.from_modules(modules)


def installed_packs() -> dict[str, str]:
    """The node packs workers load, with their versions: ``{name: version}``."""
    registry = _registry(tuple(settings.FLOWYARD_NODE_PACKS))
    return {name: pack.version for name, pack in sorted(registry.packs.items())}


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
