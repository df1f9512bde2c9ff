"""Celery tasks: thin wrappers that take ids and call the same code the local dispatcher calls."""

from __future__ import annotations

import logging
import os
import socket

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="flowyard.execute_run", bind=True, ignore_result=True)
def execute_run_task(self, run_id: str) -> str | None:
    """Claim and execute the run; a second delivery finds it claimed and does nothing, unless the worker that
    claimed it is gone (then this worker takes it over and resumes it)."""
    from backend.runs.execution import execute_run
    from backend.workers_registry import identity

    worker = identity.run_worker_name()
    if worker is None:  # not a registered worker process (a task applied in-process)
        worker = f"{self.request.hostname or f'celery@{socket.gethostname()}'}:{os.getpid()}"
    try:
        return execute_run(run_id, worker)
    finally:
        name = identity.worker_name()
        if name is not None and worker != name:
            # A prefork child: the heartbeat (in the parent) cannot see this process's warm models.
            try:
                from backend.workers_registry.heartbeat import record_warm_models

                record_warm_models(name)
            except Exception:
                logger.exception("could not report the warm models of %s", worker)


@shared_task(name="flowyard.sweep", ignore_result=True)
def sweep_task() -> dict:
    """Periodic recovery (celery beat, every ``FLOWYARD_SWEEP_SECONDS``): mark silent workers lost, re-queue
    their runs."""
    from backend.runs.recovery import sweep

    report = sweep()
    if report["workers_lost"] or report["requeued"] or report["failed"]:
        logger.info("sweep: %s", report)
    return report


@shared_task(name="flowyard.evict_cache", ignore_result=True)
def evict_cache_task() -> None:
    """Periodic housekeeping (celery beat, hourly): shrink the shared cache to its budget."""
    from backend.cache.eviction import evict_cache

    report = evict_cache()
    logger.info("cache sweep: %s", report)
