"""Celery tasks: thin wrappers that take ids and call the same code the local dispatcher calls.

An entry point at the top of the runs app: the dispatcher sends these by name and never imports them; a worker
finds them by ``autodiscover_tasks`` (backend/celery.py).
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from celery import Task, shared_task
from celery.exceptions import Reject

from backend.cache.eviction import evict_cache
from backend.runs.dispatch import RUN_TASK
from backend.runs.execution import execute_run
from backend.runs.models import Run
from backend.runs.recovery import sweep
from backend.runs.retries import TRANSIENT
from backend.workers_registry import identity

logger = logging.getLogger(__name__)


@shared_task(name=RUN_TASK, bind=True, ignore_result=True)
def execute_run_task(self: Task, run_id: str) -> str | None:
    """Claim and execute the run; a second delivery finds it claimed and does nothing, unless the worker that
    claimed it is gone (then this worker takes it over and resumes it).

    When the database stays unreachable past ``FLOWYARD_DB_RETRY_SECONDS`` before the run could start, the
    message is rejected back to the queue (not acknowledged): it is delivered again once the database is back.
    """
    worker = identity.run_worker_name()
    if worker is None:  # not a registered worker process (a task applied in-process)
        worker = f"{self.request.hostname or f'celery@{socket.gethostname()}'}:{os.getpid()}"
    try:
        return execute_run(run_id, worker)
    except TRANSIENT as exc:
        if _started_here(run_id, worker):
            raise  # it ran: the reconciliation loop re-queues it (and resumes it from the cache)
        logger.warning(
            "run %s could not start (database unavailable: %s); giving its message back", run_id, exc
        )
        raise Reject(str(exc), requeue=True) from exc
    finally:
        name = identity.worker_name()
        if name is not None and worker != name:
            # A prefork child: the heartbeat (in the parent) cannot see this process's warm models.
            try:
                from backend.workers_registry.heartbeat import record_warm_models

                record_warm_models(name)
            except Exception:
                logger.exception("could not report the warm models of %s", worker)


def _started_here(run_id: str, worker: str) -> bool:
    """True when this worker is known to have claimed the run; False when it did not or nobody can tell."""
    try:
        return Run.objects.filter(pk=run_id, worker=worker[:200]).exists()
    except Exception:
        return False


@shared_task(name="flowyard.sweep", ignore_result=True)
def sweep_task() -> dict[str, Any]:
    """One pass of the reconciliation loop on demand (``celery call flowyard.sweep``). Workers run the loop
    themselves on a thread of their own (backend/runs/celery_worker.py), so beat no longer sends it."""
    report = sweep()
    if any(report.values()):
        logger.info("sweep: %s", report)
    return report


@shared_task(name="flowyard.evict_cache", ignore_result=True)
def evict_cache_task() -> None:
    """Periodic housekeeping (celery beat, hourly): shrink the shared cache to its budget."""
    report = evict_cache()
    logger.info("cache sweep: %s", report)
