"""The worker registry: every process that executes runs, what it can do, and whether it is still alive.

A worker writes its own row: at start (``online``), every few seconds (``last_heartbeat``, its warm models and
the runs it executes), and at a clean shutdown (``stopped``). A sweep marks a worker whose heartbeat is older
than ``FLOWYARD_WORKER_LOST_SECONDS`` as ``lost``; its runs are then re-queued (``backend.runs.recovery``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone


class Worker(models.Model):
    """One worker process (a Celery worker node, or the web process's in-process runner in embedded mode)."""

    class Status(models.TextChoices):
        ONLINE = "online", "Online"
        LOST = "lost", "Lost"  # stopped sending heartbeats without saying goodbye: presumed dead
        STOPPED = "stopped", "Stopped"  # shut down cleanly

    class Kind(models.TextChoices):
        CELERY = "celery", "Celery worker"
        LOCAL = "local", "In-process (embedded)"

    name = models.CharField(max_length=200, unique=True, help_text="host:pid; runs name it in Run.worker.")
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.CELERY)
    queues = models.JSONField(default=list)
    concurrency = models.PositiveIntegerField(default=1)
    capabilities = models.JSONField(
        default=dict, help_text="cpu_count, memory_bytes, gpus [{name, memory_bytes}], packs {name: version}."
    )
    warm_models = models.JSONField(default=list)
    available_models = models.JSONField(default=list, help_text="What the worker's local model cache holds.")
    model_files = models.JSONField(
        default=dict,
        help_text="The worker's model library: {kind: [{name, size_bytes, sha256, source, folder}]}.",
    )
    current_runs = models.JSONField(default=list, help_text="Ids of the runs it is executing.")
    started = models.DateTimeField(default=timezone.now)
    last_heartbeat = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ONLINE)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["status", "last_heartbeat"], name="worker_liveness")]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"

    def is_alive(self, now: Any = None) -> bool:
        """True while online and heard from within ``FLOWYARD_WORKER_LOST_SECONDS``."""
        if self.status != self.Status.ONLINE:
            return False
        return self.last_heartbeat >= (now or timezone.now()) - lost_after()

    def heartbeat_age(self) -> float:
        """Seconds since the last heartbeat."""
        return (timezone.now() - self.last_heartbeat).total_seconds()


def lost_after() -> timedelta:
    """How long a worker may stay silent before it is presumed dead."""
    return timedelta(seconds=settings.FLOWYARD_WORKER_LOST_SECONDS)


def worker_of_run(run_worker: str) -> str:
    """The registry name inside a run's ``worker`` field (``name`` or ``name/child-pid`` for prefork children)."""
    return run_worker.split("/", 1)[0]


class ModelFetch(models.Model):
    """One fetch of a ModelScope file (or whole repo) into the model library, asked for by a site admin.

    The fetch runs where the library lives: a thread of the web process in embedded mode, a Celery task on a
    worker's queue otherwise (``backend.workers_registry.fetching``). The row is the truth a page polls.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    repo_id = models.CharField(max_length=200, help_text="ModelScope owner/name.")
    file = models.CharField(
        max_length=500, blank=True, help_text="The file in the repo; blank: the whole repo."
    )
    kind = models.CharField(max_length=64, help_text="The library kind folder (checkpoints, loras, vae...).")
    revision = models.CharField(max_length=200, help_text="The pinned tag or commit.")
    local_files_only = models.BooleanField(
        default=False, help_text="From the ModelScope cache only, never the hub."
    )
    overwrite = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    name = models.CharField(max_length=500, blank=True, help_text="The name it got in the kind folder.")
    sha256 = models.CharField(max_length=64, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    worker = models.CharField(max_length=255, blank=True, help_text="Who ran it (a worker name, or local).")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.repo_id}@{self.revision} {self.file or '(repo)'} -> {self.kind} ({self.status})"

    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)
