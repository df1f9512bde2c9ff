"""Celery tasks of the worker registry: thin wrappers that take ids and call the same code the embedded thread
calls."""

from __future__ import annotations

import os
import socket

from celery import Task, shared_task


@shared_task(name="flowyard.fetch_model_file", bind=True, ignore_result=True)
def fetch_model_file_task(self: Task, job_id: int) -> str | None:
    """Fetch a ModelScope file into this worker machine's model library (``ModelFetch`` ``job_id``)."""
    from backend.workers_registry import identity
    from backend.workers_registry.fetching import run_fetch

    worker = identity.run_worker_name() or f"{self.request.hostname or socket.gethostname()}:{os.getpid()}"
    return run_fetch(job_id, worker)
