"""A worker's own row: registering at start, a heartbeat thread, and a goodbye at a clean shutdown.

``WorkerPresence(name, ...)`` is started once per worker process (the Celery worker's main process, or the web
process in embedded mode). Every ``FLOWYARD_WORKER_HEARTBEAT_SECONDS`` it writes ``last_heartbeat``, the runs
the worker is executing (read back from the run rows: the database is the truth), its warm models and, less
often, the models its local cache and its model library hold. Embedded mode also runs the sweep from this thread.
"""

from __future__ import annotations

import glob
import importlib.util
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from backend.workers_registry.models import Worker
from backend.workers_registry.process import existing_worker_models, installed_packs, worker_models
from workers.runtime.packhost import sandbox

logger = logging.getLogger(__name__)

AVAILABLE_MODELS_EVERY = 12  # heartbeats between two scans of the local model cache (a directory walk)


def describe_capabilities(packs: dict[str, str] | None = None) -> dict[str, Any]:
    """What this machine offers: CPUs, memory, GPUs (when torch is installed and sees CUDA), node packs."""
    capabilities: dict[str, Any] = {"cpu_count": os.cpu_count() or 1, "memory_bytes": _memory_bytes()}
    capabilities["gpus"] = _gpus()
    capabilities["pack_sandbox"] = sandbox.status()
    capabilities["models_extra"] = models_extra_status()
    if packs is None:
        packs = _installed_packs()
    capabilities["packs"] = packs
    return capabilities


# The models extra (pyproject.toml, `make install-models`): without it the diffusion nodes and ModelScope's torch
# models cannot run on this worker, and the Models and Workers pages say so.
MODELS_EXTRA_MODULES = ("torch", "diffusers", "transformers")


def models_extra_status() -> dict[str, Any]:
    """Whether the models extra is installed here, and which of its modules are missing (found, not imported)."""
    missing = [name for name in MODELS_EXTRA_MODULES if importlib.util.find_spec(name) is None]
    return {"installed": not missing, "missing": missing}


def _memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _gpus() -> list[dict[str, Any]]:
    # torch costs seconds of CPU to import: only ask it when it is installed and a GPU device node exists
    # (NVIDIA's /dev/nvidia<N>, or ROCm's /dev/kfd, which torch.cuda also serves).
    if not (glob.glob("/dev/nvidia[0-9]*") or os.path.exists("/dev/kfd")):
        return []
    if importlib.util.find_spec("torch") is None:
        return []
    try:
        import torch

        if not torch.cuda.is_available():
            return []
        return [
            {
                "name": torch.cuda.get_device_name(index),
                "memory_bytes": torch.cuda.get_device_properties(index).total_memory,
            }
            for index in range(torch.cuda.device_count())
        ]
    except Exception:
        logger.exception("could not list GPUs")
        return []


def _installed_packs() -> dict[str, str]:
    try:
        return installed_packs()
    except Exception:
        logger.exception("could not load the node packs")
        return {}


def running_run_ids(name: str) -> list[str]:
    """The runs a worker executes now, by the run rows (``worker`` is ``name`` or ``name/<child pid>``)."""
    from backend.runs.models import Run

    rows = Run.objects.filter(Q(worker=name) | Q(worker__startswith=f"{name}/"), status=Run.Status.RUNNING)
    return [str(run_id) for run_id in rows.values_list("id", flat=True)]


def warm_models_here() -> list[dict[str, Any]]:
    """The models warm in this process (empty until a run asked for the model manager)."""
    manager = existing_worker_models()
    if manager is None:
        return []
    return [dict(model.to_json(), process=os.getpid()) for model in manager.warm_models()]


def available_models_here() -> list[dict[str, Any]]:
    """The models this machine's local model cache can load."""
    return [model.to_json() for model in worker_models().available_models()]


def model_files_here() -> dict[str, list[dict[str, Any]]]:
    """This machine's model library by kind (names, sizes, hashes already known; nothing is hashed here)."""
    return worker_models().available_files()


_reported_warm: dict[str, list[dict[str, Any]]] = {}  # worker name -> what this process last wrote there


def record_warm_models(name: str) -> None:
    """From a process that executed a run (a prefork child): replace its own entries in the worker's row.

    Nothing is written when they are what this process wrote last (a run that used no model): a locked row
    read and an update after every run otherwise.
    """
    warm = warm_models_here()
    if _reported_warm.get(name) == warm:
        return
    pid = os.getpid()
    with transaction.atomic():
        row = Worker.objects.select_for_update().filter(name=name).first()
        if row is None:
            return
        others = [model for model in row.warm_models if model.get("process") != pid]
        Worker.objects.filter(pk=row.pk).update(warm_models=others + warm)
    _reported_warm[name] = warm


@dataclass(frozen=True)
class Periodic:
    """Work a worker's heartbeat thread does every ``every`` seconds (0: never), first at start or after one
    interval."""

    run: Callable[[], None]
    every: float
    at_start: bool = True


def collect_pack_environments_every() -> Periodic:
    """This machine's unused pack environments, removed every ``FLOWYARD_PACK_ENV_GC_SECONDS`` (not at start)."""
    from backend.registry.envgc import collect_pack_environments

    def collect() -> None:
        collect_pack_environments()

    return Periodic(collect, settings.FLOWYARD_PACK_ENV_GC_SECONDS, at_start=False)


class WorkerPresence:
    """Registers a worker, keeps its heartbeat going on a daemon thread, and says goodbye at shutdown."""

    def __init__(
        self,
        name: str,
        *,
        kind: str = Worker.Kind.CELERY,
        queues: list[str] | None = None,
        concurrency: int = 1,
        report_warm_models: bool = True,
        periodic: Sequence[Periodic] = (),
    ) -> None:
        self.name = name
        self.kind = kind
        self.queues = list(queues or [])
        self.concurrency = concurrency
        self.report_warm_models = report_warm_models
        self.interval = settings.FLOWYARD_WORKER_HEARTBEAT_SECONDS
        self._periodic = list(periodic)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"flowyard-heartbeat-{name}", daemon=True)
        self.beats = 0

    def start(self) -> None:
        """Write the row (online, capabilities) and start the heartbeat thread."""
        sandbox.announce(logger)
        self.register()
        self._thread.start()

    def register(self) -> None:
        now = timezone.now()
        Worker.objects.update_or_create(
            name=self.name,
            defaults={
                "hostname": socket.gethostname(),
                "pid": os.getpid(),
                "kind": self.kind,
                "queues": self.queues,
                "concurrency": self.concurrency,
                "capabilities": describe_capabilities(packs={}),
                "warm_models": [],
                "current_runs": [],
                "started": now,
                "last_heartbeat": now,
                "status": Worker.Status.ONLINE,
            },
        )

    def beat(self) -> None:
        """One heartbeat: alive now, these runs, these warm models (and, now and then, the model cache)."""
        fields: dict[str, Any] = {
            "last_heartbeat": timezone.now(),
            "status": Worker.Status.ONLINE,
            "current_runs": running_run_ids(self.name),
        }
        if self.report_warm_models:
            fields["warm_models"] = warm_models_here()
        if self.beats == 0:
            fields["capabilities"] = describe_capabilities()
        if self.beats % AVAILABLE_MODELS_EVERY == 0:
            try:
                fields["available_models"] = available_models_here()
            except Exception:
                logger.exception("could not list the local model cache")
            try:
                fields["model_files"] = model_files_here()
            except Exception:
                logger.exception("could not list the model library")
        self.beats += 1
        if not Worker.objects.filter(name=self.name).update(**fields):
            # The row was deleted (an admin cleaned up): register again.
            self.register()
            Worker.objects.filter(name=self.name).update(**fields)

    def stop(self, status: str = Worker.Status.STOPPED) -> None:
        """Stop the heartbeat and mark the row ``stopped``."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.interval + 5)
        try:
            Worker.objects.filter(name=self.name).update(status=status, current_runs=[])
        except DatabaseError:
            logger.exception("could not mark worker %s %s", self.name, status)

    def _loop(self) -> None:
        start = time.monotonic()
        due = [start if task.at_start else start + task.every for task in self._periodic]
        try:
            while True:
                try:
                    self.beat()
                except Exception:
                    logger.exception("heartbeat of worker %s failed", self.name)
                    connection.close()  # a broken connection: the next beat opens a new one
                for index, task in enumerate(self._periodic):
                    if task.every <= 0 or time.monotonic() < due[index]:
                        continue
                    due[index] = time.monotonic() + task.every
                    try:
                        task.run()
                    except Exception:
                        logger.exception("periodic task of worker %s failed", self.name)
                        connection.close()
                if self._stop.wait(self.interval):
                    return
        finally:
            connection.close()
