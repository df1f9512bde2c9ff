"""Fetch jobs: a site admin asks for a ModelScope file; the machine that holds the model library fetches it.

``do_request_fetch`` records the job and, after the transaction commits, hands its id to a runner: a thread of
the web process in embedded mode (the library lives here), a Celery task on the workers' queue otherwise (the
library lives on the worker machines). ``run_fetch`` claims the job with a conditional update, so a redelivered
message does nothing, calls the library's real ``fetch_file`` and records the outcome on the row.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from backend.accounts.models import AnyUser
from backend.celery import app as celery_app
from backend.workers_registry.models import ModelFetch
from backend.workers_registry.process import model_library

logger = logging.getLogger(__name__)
# The Celery task that runs ``run_fetch`` on a worker (backend/workers_registry/tasks.py), sent by name.
FETCH_TASK = "flowyard.fetch_model_file"


@transaction.atomic
def do_request_fetch(
    user: AnyUser | None, *, repo_id: str, file: str, kind: str, revision: str, **options: Any
) -> ModelFetch:
    """Record a queued fetch job and send it to a runner once the transaction commits."""
    job = ModelFetch.objects.create(
        repo_id=repo_id,
        file=file,
        kind=kind,
        revision=revision,
        local_files_only=bool(options.get("local_files_only", False)),
        overwrite=bool(options.get("overwrite", False)),
        requested_by=user if user is not None and user.is_authenticated else None,
    )
    transaction.on_commit(lambda: enqueue_fetch(job.pk))
    return job


def fetch_queue() -> str:
    """The queue a fetch goes to: the GPU workers' while one is live (they load the diffusion models), else CPU."""
    from backend.runs.dispatch import gpu_workers_live

    return settings.FLOWYARD_GPU_QUEUE if gpu_workers_live() else settings.FLOWYARD_CPU_QUEUE


def enqueue_fetch(job_id: int) -> None:
    """Hand a job to a Celery worker (``FLOWYARD_DISPATCHER=celery``) or to a thread of this process."""
    if settings.FLOWYARD_DISPATCHER == "celery":
        celery_app.send_task(FETCH_TASK, args=[job_id], queue=fetch_queue(), ignore_result=True)
    else:
        threading.Thread(
            target=_fetch_in_thread, args=(job_id,), name=f"model-fetch-{job_id}", daemon=True
        ).start()


def _fetch_in_thread(job_id: int) -> None:
    try:
        run_fetch(job_id, "local")
    except Exception:
        logger.exception("model fetch %s failed outside the fetch itself", job_id)
    finally:
        connections.close_all()


def run_fetch(job_id: int, worker: str) -> str | None:
    """Claim the queued job, fetch the file into this machine's library, record done or failed; return the final
    status, or None when the job was not queued (already claimed, or gone)."""
    from backend.workers_registry.catalog import forget_local_models

    claimed = ModelFetch.objects.filter(pk=job_id, status=ModelFetch.Status.QUEUED).update(
        status=ModelFetch.Status.RUNNING, started=timezone.now(), worker=worker
    )
    if not claimed:
        return None
    job = ModelFetch.objects.get(pk=job_id)
    try:
        fetched = model_library().fetch_file(
            job.repo_id,
            job.file or None,
            job.kind,
            revision=job.revision,
            local_files_only=job.local_files_only,
            overwrite=job.overwrite,
        )
    except Exception as exc:  # hub, network and file errors come in many types; each ends the job alike
        what = f"{job.repo_id}@{job.revision} {job.file or '(whole repo)'}"
        logger.info("model fetch %s failed: %s", job_id, exc)
        ModelFetch.objects.filter(pk=job_id).update(
            status=ModelFetch.Status.FAILED,
            error=f"could not fetch {what}: {exc}"[:4000],
            finished=timezone.now(),
        )
        return ModelFetch.Status.FAILED
    ModelFetch.objects.filter(pk=job_id).update(
        status=ModelFetch.Status.DONE,
        name=fetched.name,
        sha256=fetched.sha256 or "",
        size_bytes=fetched.size_bytes,
        finished=timezone.now(),
    )
    forget_local_models()
    _report_library(worker)
    return ModelFetch.Status.DONE


def _report_library(worker: str) -> None:
    """Write this machine's library into its worker row now, so listings show the new file before the next
    full heartbeat (which reports the library only about once a minute)."""
    from backend.workers_registry import identity
    from backend.workers_registry.heartbeat import model_files_here
    from backend.workers_registry.models import Worker

    name = identity.worker_name()
    if name is None:  # embedded: /api/models scans this process's library itself
        return
    try:
        Worker.objects.filter(name=name).update(model_files=model_files_here())
    except Exception:
        logger.exception("could not report the model library of %s after a fetch", worker)
