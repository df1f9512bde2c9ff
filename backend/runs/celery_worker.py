"""What a Celery worker process does around its tasks, and the state it keeps for that: the worker imports this
module by name as it starts (``include`` in backend/celery.py), and connects the hooks below to its signals.

Every worker's main process runs the reconciliation loop (``backend.runs.recovery.Reconciler``) on a thread of its
own: it never waits behind runs in the pool, needs no broker message to start, and GPU-only workers run it as well
as CPU ones. Task threads keep their database connection between tasks (``FLOWYARD_WORKER_CONN_MAX_AGE``), and a
pool process keeps full garbage collections off what it imported.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from typing import Any

from celery.signals import worker_init, worker_process_init, worker_ready, worker_shutdown
from celery.worker import state
from django.conf import settings
from django.db import connections

from backend import gc_tuning
from backend.celery import app
from backend.runs import publish
from backend.runs.dispatch import RUN_TASK
from backend.runs.recovery import Reconciler
from backend.workers_registry import identity

logger = logging.getLogger(__name__)

# The reconciliation loop of this worker's main process, from ``worker_ready`` to ``worker_shutdown``.
_reconciler: Reconciler | None = None


@worker_process_init.connect
def _freeze_loaded_objects(**kwargs: Any) -> None:
    """A worker process's imports live as long as it does: keep full garbage collections from walking them."""
    gc_tuning.freeze()


@worker_init.connect
def _keep_task_connections(**kwargs: Any) -> None:
    """Reuse a worker's database connection across tasks instead of connecting for each (~3 ms with Postgres).

    Celery's Django fixup closes every connection before and after each task. Here the task thread's connection
    is kept up to ``FLOWYARD_WORKER_CONN_MAX_AGE`` seconds, as Django keeps a request's: between tasks it is
    closed if it is unusable (errors, a transaction left open) or obsolete, and before its first query in a task
    it is health-checked. Only the task thread's connection gets that age (a copy of its settings), so the
    engine's and recorder's short-lived threads still close theirs. Pool processes still drop the connections
    inherited from the parent (the fixup's ``worker_process_init``).
    """
    max_age = settings.FLOWYARD_WORKER_CONN_MAX_AGE
    if max_age <= 0:
        return
    publish.QUEUE_CONNECTION_MAX_AGE = max_age  # the queue positions thread keeps its connection too
    for fixup in app._fixups:  # celery.fixups.django.DjangoFixup: its worker half owns the task signals
        worker_fixup = getattr(fixup, "worker_fixup", None)
        if worker_fixup is not None:
            worker_fixup.close_database = functools.partial(_recycle_task_connections, max_age)


def _recycle_task_connections(max_age: int, **kwargs: Any) -> None:
    """Before and after each task (in the thread that runs it): keep its connections while usable and young."""
    for alias in connections:
        conn = connections[alias]
        if conn.settings_dict.get("CONN_MAX_AGE") != max_age or not conn.settings_dict.get(
            "CONN_HEALTH_CHECKS"
        ):
            # The wrapper belongs to this thread; its settings dict is shared with every other thread's.
            conn.settings_dict = {**conn.settings_dict, "CONN_MAX_AGE": max_age, "CONN_HEALTH_CHECKS": True}
        try:
            conn.close_if_unusable_or_obsolete()
        except Exception:  # a broken connection: drop it (close() forgets it even when it fails)
            logger.warning("checking the task's database connection failed; closing it", exc_info=True)
            with contextlib.suppress(Exception):
                conn.close()


def held_run_ids() -> set[str]:
    """The runs this worker node holds now: the run tasks it has reserved (prefetched or sent to a pool process)
    or is executing, by task id (the run id) and first argument. Read in the main process, where Celery keeps
    that state; a pool process that died has had its request marked ready."""
    held: set[str] = set()
    for request in list(state.requests.values()):  # a copy: the consumer changes it meanwhile
        if request.name != RUN_TASK:
            continue
        held.add(str(request.id))
        if request.args:
            held.add(str(request.args[0]))
    return held


@worker_ready.connect
def _start_reconciler(sender: Any = None, **kwargs: Any) -> None:
    global _reconciler
    name = identity.worker_name() or f"{sender.hostname}:{os.getpid()}"
    _reconciler = Reconciler(name, held_run_ids, settings.FLOWYARD_SWEEP_SECONDS)
    _reconciler.start()
    logger.info("reconciliation loop of %s: every %.1f s", name, settings.FLOWYARD_SWEEP_SECONDS)


@worker_shutdown.connect
def _stop_reconciler(**kwargs: Any) -> None:
    if _reconciler is not None:
        _reconciler.stop()
