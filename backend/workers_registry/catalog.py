"""Which models the installation can load: what live workers report in their heartbeats, plus (embedded mode)
this process's own local model cache and model library."""

from __future__ import annotations

import threading
import time
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from backend.workers_registry.models import Worker, lost_after
from backend.workers_registry.process import worker_models

LOCAL_SCAN_SECONDS = 10.0  # the local cache is a directory walk: look again at most this often

_local_lock = threading.Lock()
_local: tuple[float, list[dict[str, Any]]] | None = None
_local_files: tuple[float, dict[str, list[dict[str, Any]]]] | None = None


def live_workers() -> QuerySet[Worker]:
    """Workers online and heard from recently."""
    return Worker.objects.filter(
        status=Worker.Status.ONLINE, last_heartbeat__gte=timezone.now() - lost_after()
    )


def local_models() -> list[dict[str, Any]]:
    """This process's local model cache (embedded mode runs here), rescanned at most every few seconds."""
    global _local
    with _local_lock:
        if _local is not None and time.monotonic() - _local[0] < LOCAL_SCAN_SECONDS:
            return _local[1]
    models = [model.to_json() for model in worker_models().available_models()]
    with _local_lock:
        _local = (time.monotonic(), models)
    return models


def local_model_files() -> dict[str, list[dict[str, Any]]]:
    """This process's model library by kind (embedded mode runs here), rescanned at most every few seconds."""
    global _local_files
    with _local_lock:
        if _local_files is not None and time.monotonic() - _local_files[0] < LOCAL_SCAN_SECONDS:
            return _local_files[1]
    files = worker_models().available_files()
    with _local_lock:
        _local_files = (time.monotonic(), files)
    return files


def forget_local_models() -> None:
    """Drop the remembered scans (after registering or fetching a model here)."""
    global _local, _local_files
    with _local_lock:
        _local = None
        _local_files = None


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


def files_overview(kind: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """The model library files live workers (and, embedded, this process) list: ``{kind: [{name, size_bytes,
    sha256, source, folder, workers}]}``, only ``kind`` when given (aliases such as ``unet`` accepted)."""
    wanted = _canonical(kind) if kind else None
    if kind and wanted is None:
        return {}
    found: dict[str, dict[str, dict[str, Any]]] = {}

    def add(listing: Any, where: str) -> None:
        if not isinstance(listing, dict):
            return
        for folder, entries in listing.items():
            if wanted is not None and folder != wanted:
                continue
            for item in entries if isinstance(entries, list) else []:
                if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                    continue
                entry = found.setdefault(folder, {}).get(item["name"])
                if entry is None:
                    entry = found[folder][item["name"]] = {
                        "name": item["name"],
                        "size_bytes": item.get("size_bytes"),
                        "sha256": item.get("sha256"),
                        "source": item.get("source"),
                        "folder": bool(item.get("folder")),
                        "workers": [],
                    }
                for field in ("sha256", "source"):
                    if entry[field] is None and item.get(field) is not None:
                        entry[field] = item[field]
                if where not in entry["workers"]:
                    entry["workers"].append(where)

    for name, listing in live_workers().values_list("name", "model_files"):
        add(listing, name)
    if embedded():
        add(local_model_files(), "local")
    return {folder: [entries[n] for n in sorted(entries)] for folder, entries in sorted(found.items())}


def model_file_names(kind: str) -> list[str] | None:
    """The names a ``modelfiles.<kind>`` select may hold; None when no one lists any library file (or the kind is
    not a model folder), so validation cannot tell and the run says which file is missing.

    In embedded mode this process's ``kind`` folders are walked afresh: a file just dropped in is accepted at once.
    """
    wanted = _canonical(kind)
    if wanted is None:
        return None
    names: set[str] = set()
    reported = False
    for listing in live_workers().values_list("model_files", flat=True):
        if not isinstance(listing, dict) or not any(listing.values()):
            continue
        reported = True
        entries = listing.get(wanted)
        names.update(
            e["name"] for e in entries or [] if isinstance(e, dict) and isinstance(e.get("name"), str)
        )
    if embedded():
        fresh = worker_models().library.list(wanted)
        names.update(fresh)
        reported = reported or bool(fresh) or any(local_model_files().values())
    return sorted(names) if reported else None


def _canonical(kind: str) -> str | None:
    from nodepacks.sdk import NodeError
    from workers.runtime.model_library import canonical_kind

    try:
        return canonical_kind(kind)
    except NodeError:
        return None
