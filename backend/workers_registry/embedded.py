"""Embedded mode (the local dispatcher): the web process is the worker. It registers its runner in the worker
registry, sends heartbeats, and sweeps: once at start-up (a run left RUNNING by a previous process that died is
re-queued once that process is presumed lost) and then periodically from the heartbeat thread."""

from __future__ import annotations

import atexit
import logging
import sys
import threading
from collections.abc import Callable
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

_started = False
_lock = threading.Lock()


def start_embedded_worker() -> bool:
    """Start the embedded runner's presence and sweep (once per process); False when not embedded or off."""
    global _started
    if settings.FLOWYARD_DISPATCHER != "local" or not settings.FLOWYARD_EMBEDDED_WORKER:
        return False
    if "pytest" in sys.modules:
        # Test processes import the ASGI app too; a background thread there would hold a database connection
        # past the test database's teardown. Tests drive presence and sweeps explicitly.
        return False
    with _lock:
        if _started:
            return False
        _started = True
    from backend.runs.dispatch import get_dispatcher
    from backend.runs.recovery import sweep
    from backend.workers_registry.heartbeat import Periodic, WorkerPresence, collect_pack_environments_every
    from backend.workers_registry.models import Worker

    dispatcher = get_dispatcher()
    name = getattr(dispatcher, "worker_name", "local")
    presence = WorkerPresence(
        name,
        kind=Worker.Kind.LOCAL,
        queues=["local"],
        concurrency=settings.FLOWYARD_LOCAL_WORKERS,
        periodic=[
            Periodic(_sweep_logged(sweep), settings.FLOWYARD_SWEEP_SECONDS),
            collect_pack_environments_every(),
        ],
    )
    try:
        presence.start()  # the thread's first pass sweeps right away
    except Exception:
        logger.exception("could not register the embedded worker (is the database migrated?)")
        return False
    # A clean exit says goodbye: runs this process left RUNNING are then re-queued by the next sweep at once.
    atexit.register(presence.stop)
    return True


def _sweep_logged(sweep: Callable[[], dict[str, Any]]) -> Callable[[], None]:
    def run() -> None:
        report = sweep()
        if report["workers_lost"] or report["requeued"] or report["failed"]:
            logger.info("sweep: %s", report)

    return run
