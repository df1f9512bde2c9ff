"""Celery tasks: thin wrappers that take ids and call the same code the local dispatcher calls."""

from __future__ import annotations

import logging
import os
import socket

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="flowyard.execute_run", bind=True, ignore_result=True)
def execute_run_task(self, run_id: str) -> str | None:
    """Claim and execute the run; a second delivery of the same id finds it claimed and does nothing."""
    from backend.runs.execution import execute_run

    worker = self.request.hostname or f"celery@{socket.gethostname()}"
    return execute_run(run_id, f"{worker}:{os.getpid()}")


@shared_task(name="flowyard.sweep", ignore_result=True)
def sweep_task() -> None:
    """Periodic housekeeping (celery beat): shrink the shared cache to its budget."""
    from backend.cache.eviction import evict_cache

    report = evict_cache()
    logger.info("cache sweep: %s", report)
