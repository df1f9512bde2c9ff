"""Celery tasks of the worker registry: thin wrappers that take ids and call the same code the embedded thread
calls. Senders address them by name (``FETCH_TASK``) and never import this module; a worker finds it through
``autodiscover_tasks`` (backend/celery.py)."""

from __future__ import annotations

import os
import socket

from celery import Task, shared_task

from backend.workers_registry import identity
from backend.workers_registry.fetching import FETCH_TASK, run_fetch


@shared_task(name=FETCH_TASK, bind=True, ignore_result=True)
def fetch_model_file_task(self: Task, job_id: int) -> str | None:
    """Fetch a ModelScope file into this worker machine's model library (``ModelFetch`` ``job_id``)."""
    worker = identity.run_worker_name() or f"{self.request.hostname or socket.gethostname()}:{os.getpid()}"
    return run_fetch(job_id, worker)
