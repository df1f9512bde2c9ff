"""Which models the installation can load: what live workers report in their heartbeats, plus (embedded mode)
this process's own local model cache."""

from __future__ import annotations

import threading
import time
from typing import Any

from django.conf import settings
from django.utils import timezone

from backend.workers_registry.models import Worker, lost_after

LOCAL_SCAN_SECONDS = 10.0  # the local cache is a directory walk: look again at most this often

_local_lock = threading.Lock()
_local: tuple[float, list[dict[str, Any]]] | None = None


def live_workers():
    """Workers online and heard from recently."""
    return Worker.objects.filter(
        status=Worker.Status.ONLINE, last_heartbeat__gte=timezone.now() - lost_after()
    )


def local_models() -> list[dict[str, Any]]:
    """This process's local model cache (embedded mode runs here), rescanned at most every few seconds."""
    global _local
    from backend.runs.engine import worker_models

    with _local_lock:
        if _local is not None and time.monotonic() - _local[0] < LOCAL_SCAN_SECONDS:
            return _local[1]
    models = [model.to_json() for model in worker_models().available_models()]
    with _local_lock:
        _local = (time.monotonic(), models)
    return models


def forget_local_models() -> None:
    """Drop the remembered scan (after registering or fetching a model here)."""
    global _local
    with _local_lock:
        _local = None


def embedded() -> bool:
    return settings.FLOWYARD_DISPATCHER == "local"


def known_models() -> list[dict[str, Any]]:
    """Every model some live worker (or, embedded, this process) can load, one entry per (model, revision)."""
    return models_overview()


def models_overview() -> list[dict[str, Any]]:
    """Models by (model id, revision): task, framework, size, and which workers hold it and have it warm."""
    found: dict[tuple[str, str], dict[str, Any]] = {}

    def add(model: dict[str, Any], where: str) -> dict[str, Any]:
        key = (str(model.get("model_id")), str(model.get("revision")))
        entry = found.get(key)
        if entry is None:
            entry = found[key] = {
                "model_id": key[0],
                "revision": key[1],
                "task": model.get("task"),
                "framework": model.get("framework"),
                "size_bytes": model.get("size_bytes"),
                "workers": [],
                "warm_on": [],
            }
        if where not in entry["workers"]:
            entry["workers"].append(where)
        return entry

    for name, available, warm in live_workers().values_list("name", "available_models", "warm_models"):
        for model in available or []:
            add(model, name)
        warm_ids = {(str(m.get("model_id")), str(m.get("revision"))) for m in warm or []}
        for key in warm_ids:
            if key in found and name not in found[key]["warm_on"]:
                found[key]["warm_on"].append(name)
    if embedded():
        for model in local_models():
            add(model, "local")
    return sorted(found.values(), key=lambda entry: (entry["model_id"], entry["revision"]))
