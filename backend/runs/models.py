"""Runs: what was asked to run, how each node went, the ordered event log, and the files a run produced.

The row is the source of truth: a worker may die at any moment, and a run's status, events and outputs are read
back from here (and the blob store), never from a process's memory.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from backend.accounts.models import Workspace


class Run(models.Model):
    """One execution of a graph (a workflow version after overrides, or a raw graph posted by a client)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        # Paused at an approval step (backend/approvals): holds no worker and no fair-use slot.
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
        REJECTED = "rejected", "Rejected"  # an approver said no (or the approval timed out to "reject")

    class Source(models.TextChoices):
        UI = "ui", "Editor"
        API = "api", "API"
        COMFY = "comfy", "ComfyUI API"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.REJECTED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="runs")
    # Runs belong to their workflow's history: deleting the workflow deletes them (their output blobs are then
    # collected by the orphan sweep). Raw-graph runs from API clients have no workflow.
    workflow = models.ForeignKey(
        "workflows.Workflow", on_delete=models.CASCADE, null=True, blank=True, related_name="runs"
    )
    workflow_version = models.ForeignKey(
        "workflows.WorkflowVersion", on_delete=models.CASCADE, null=True, blank=True, related_name="runs"
    )
    graph = models.JSONField(help_text="The graph actually run: overrides applied, constants as validated.")
    outputs = models.JSONField(
        null=True, blank=True, help_text="Node ids asked for; null: every output node."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="runs"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    priority = models.IntegerField(default=0, help_text="Higher runs first among queued runs.")
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.API)
    created = models.DateTimeField(default=timezone.now)
    # Set when the scheduler hands the run to the dispatcher: the run then holds one of its user's and
    # workspace's running slots while it waits for a worker to claim it.
    dispatched = models.DateTimeField(null=True, blank=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="", help_text="A one-paragraph summary of what went wrong.")
    worker = models.CharField(max_length=200, blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    rerun_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="reruns"
    )
    last_seq = models.PositiveIntegerField(default=0, help_text="Sequence number of the last stored event.")
    cancel_requested = models.BooleanField(default=False)
    packs = models.JSONField(
        default=dict,
        blank=True,
        help_text="{pack name: version} of the installed packs the graph was validated with; the worker loads these.",
    )
    requires_gpu = models.BooleanField(
        default=False,
        help_text="A node of the graph needs a GPU: dispatched to the GPU queue (decided on submit).",
    )

    class Meta:
        ordering = ["-created"]
        indexes = [
            models.Index(fields=["workspace", "-created"], name="run_workspace_recent"),
            models.Index(fields=["created_by", "-created"], name="run_user_recent"),
            # The scheduler's queue: waiting runs, highest priority then oldest first.
            models.Index(
                fields=["-priority", "created"],
                condition=models.Q(status="queued", dispatched__isnull=True),
                name="run_waiting_queue",
            ),
            models.Index(
                fields=["status"], condition=models.Q(status__in=["queued", "running"]), name="run_active"
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.status})"

    def is_finished(self) -> bool:
        """True once the run succeeded, failed, was cancelled or rejected."""
        return self.status in self.FINISHED

    def is_waiting(self) -> bool:
        """True while the run is queued and not yet handed to a worker (fair-use limits hold it back)."""
        return self.status == self.Status.QUEUED and self.dispatched is None

    def queue_position(self) -> int | None:
        """How many waiting runs are ahead of this one (0: next); None unless this run is waiting."""
        if not self.is_waiting():
            return None
        ahead = (
            models.Q(priority__gt=self.priority)
            | models.Q(priority=self.priority, created__lt=self.created)
            | models.Q(priority=self.priority, created=self.created, id__lt=self.id)
        )
        return Run.objects.filter(status=self.Status.QUEUED, dispatched__isnull=True).filter(ahead).count()

    def duration(self) -> float | None:
        """Seconds from start to finish (or to now while running); None before it starts."""
        if self.started is None:
            return None
        return ((self.finished or timezone.now()) - self.started).total_seconds()

    def group_name(self) -> str:
        """The channel layer group that carries this run's events."""
        return f"run.{self.pk}"


class NodeRun(models.Model):
    """How one node of a run went."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        CACHED = "cached", "Cached"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"
        CANCELLED = "cancelled", "Cancelled"
        AWAITING = "awaiting", "Awaiting a decision"  # an approval step that paused the run

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="node_runs", db_index=False)
    node_id = models.CharField(max_length=200)
    node_type = models.CharField(max_length=200)
    position = models.PositiveIntegerField(default=0, help_text="Place in the run's topological order.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True, help_text="Seconds the node took to execute.")
    progress_value = models.FloatField(null=True, blank=True)
    progress_max = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    error_type = models.CharField(max_length=200, blank=True, default="")
    traceback = models.TextField(blank=True, default="")
    outputs = models.JSONField(
        default=list, help_text="Summaries of the output values: [{name, type, summary}]."
    )

    class Meta:
        ordering = ["run", "position"]
        constraints = [models.UniqueConstraint(fields=["run", "node_id"], name="noderun_unique_node")]

    def __str__(self) -> str:
        return f"{self.node_id} ({self.status})"

    def is_finished(self) -> bool:
        """True once the node has an outcome (finished, served from the cache, failed, skipped, cancelled)."""
        return self.status not in (self.Status.QUEUED, self.Status.RUNNING, self.Status.AWAITING)


class RunEvent(models.Model):
    """One event of a run's log; ``seq`` counts 1, 2, 3... per run, so clients replay from their last one."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="events", db_index=False)
    seq = models.PositiveIntegerField()
    type = models.CharField(max_length=32)
    node = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001 - null: a run-level event
    data = models.JSONField(default=dict)
    time = models.FloatField(help_text="When the engine emitted it (seconds since the epoch).")

    class Meta:
        ordering = ["run", "seq"]
        # The unique index is also the replay index: WHERE run_id = ? AND seq > ? ORDER BY seq.
        constraints = [models.UniqueConstraint(fields=["run", "seq"], name="runevent_unique_seq")]

    def __str__(self) -> str:
        return f"{self.run_id}#{self.seq} {self.type}"

    def to_json(self) -> dict[str, Any]:
        """The event as clients receive it, live or replayed."""
        return {"seq": self.seq, "type": self.type, "node": self.node, "data": self.data, "time": self.time}


class RunOutput(models.Model):
    """Something a node showed or saved: an image (a PNG or animated WebP blob), a video or audio file, another
    file, text, or JSON data; or a progress preview."""

    class Kind(models.TextChoices):
        IMAGE = "image", "Image"
        TEXT = "text", "Text"
        JSON = "json", "JSON"
        PREVIEW = "preview", "Progress preview"  # a small PNG a node sent while running; not a result
        VIDEO = "video", "Video"
        AUDIO = "audio", "Audio"
        FILE = "file", "File"  # any other encoded file a node kept (a text file, a 16-bit PNG is an image)

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="run_outputs")
    node_id = models.CharField(max_length=200)
    index = models.PositiveIntegerField(default=0, help_text="Place among the node's outputs of this kind.")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    blob_sha = models.CharField(max_length=64, null=True, blank=True, db_index=True)  # noqa: DJ001 - null: inline
    filename = models.CharField(max_length=255, blank=True, default="")
    content_type = models.CharField(max_length=100, blank=True, default="")
    size = models.PositiveBigIntegerField(default=0)
    saved = models.BooleanField(default=False, help_text="A result to keep (SaveImage), not a preview.")
    text = models.TextField(blank=True, default="")
    data = models.JSONField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["run", "id"]

    def __str__(self) -> str:
        return f"{self.run_id} {self.node_id}/{self.kind}/{self.index}"

    def has_file(self) -> bool:
        """True when the output is a blob to download."""
        return self.blob_sha is not None

    def url(self) -> str | None:
        """The download path (access-checked), or None for inline text and JSON."""
        return f"/api/runs/{self.run_id}/outputs/{self.pk}" if self.has_file() else None

    def to_ref(self) -> dict[str, Any]:
        """A short reference for events and run details."""
        ref: dict[str, Any] = {"id": self.pk, "kind": self.kind, "node": self.node_id, "index": self.index}
        if self.has_file():
            ref.update(url=self.url(), filename=self.filename, content_type=self.content_type, size=self.size)
        if self.kind != self.Kind.PREVIEW:
            ref["saved"] = self.saved
        if self.kind == self.Kind.TEXT:
            ref["text"] = self.text
        elif self.kind == self.Kind.JSON:
            ref["data"] = self.data
        return ref


def run_output_blob_references(shas: set[str]) -> set[str]:
    """The blob reference checker: which of ``shas`` some run output still uses."""
    used = RunOutput.objects.filter(blob_sha__in=shas).values_list("blob_sha", flat=True).distinct()
    return {sha for sha in used if sha is not None}
