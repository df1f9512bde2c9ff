"""The draft of each workflow being co-edited: a Yjs snapshot and the updates accepted since it; and where each
raw-graph run was shared (``SharedRun``), so that an editor joining later, on any web process, is told of it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from backend.workflows.models import Workflow


class DraftSnapshot(models.Model):
    """A workflow's draft document as one Yjs update (``encode_state_as_update``); the updates stored after it
    (``DraftUpdate``) complete it. Made from the latest version when the workflow is first co-edited."""

    workflow = models.OneToOneField(
        Workflow, on_delete=models.CASCADE, primary_key=True, related_name="draft"
    )
    state = models.BinaryField()
    base_version = models.PositiveIntegerField(null=True)  # the version the draft started from
    updates_merged = models.PositiveBigIntegerField(default=0)  # how many updates compaction folded in so far
    updated = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"draft of workflow {self.workflow_id}"


class DraftUpdate(models.Model):
    """One Yjs update a writer sent, stored before anyone else is sent it; ``id`` orders them."""

    id = models.BigAutoField(primary_key=True)
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="draft_updates")
    update = models.BinaryField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["workflow", "id"])]

    def __str__(self) -> str:
        return f"update {self.id} of workflow {self.workflow_id}"


class SharedRun(models.Model):
    """A raw-graph run (it belongs to no workflow) that its starter's editor shared in a workflow
    (``POST /api/workflows/<id>/shared-runs``): the runs feed of that workflow names it to editors who join while it
    is unfinished. Rows of finished runs are deleted when the next run is shared (``views.ShareRunView``)."""

    run = models.OneToOneField(
        "runs.Run", on_delete=models.CASCADE, primary_key=True, related_name="shared_in"
    )
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="shared_runs")
    shared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"run {self.run_id} shared in workflow {self.workflow_id}"
