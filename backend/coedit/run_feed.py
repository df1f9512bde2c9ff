"""``ws/workflows/<id>/runs/``: the runs started in a workflow, for everyone who has its editor open, so that a
run one collaborator starts shows its live progress on everyone's canvas (each editor then follows the run on
``ws/runs/<id>/`` as it follows its own).

Frames (JSON): ``{"type": "run", "run": {"id", "status", "workflow", "created_by": {"id", "name"}, "created"}}``,
first for each unfinished run (oldest first), then for each run queued later:

- a run of the workflow (``workflow`` set: run from a saved version by the editor, the API, an app or a
  trigger), announced by the ``Run`` row's ``post_save`` once the submit commits (``signals.py``);
- a raw-graph run (``workflow`` null) that the editor posted because the draft's structure differs from the
  saved version: its starter's editor announces it (``POST /api/workflows/<id>/shared-runs``), which also stores
  where it was shared (``models.SharedRun``): a joiner on any web process is told of those still unfinished.

Who gets them: the members who may see the workflow, which is exactly who may read its runs (a run is visible
to the members of its workspace who may see its workflow; a raw-graph run to every member of its workspace, and
an announced one is in the workflow's workspace). Others are closed with 4404; a member removed from the team is
closed as soon as the change commits, as on the document socket.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from rest_framework.exceptions import NotFound

from backend.accounts.access import access_workflow_draft
from backend.core.live import CLOSE_NOT_FOUND, LiveConsumerMixin

if TYPE_CHECKING:
    from backend.runs.models import Run

RECENT_UNFINISHED = 5  # unfinished runs a joining editor is told about


def runs_group(workflow_id: int) -> str:
    return f"coedit.runs.{workflow_id}"


def run_summary(run: Run) -> dict[str, Any]:
    """What the feed says of a run (its starter's name is read if not loaded)."""
    creator = run.created_by if run.created_by_id is not None else None
    return {
        "id": str(run.pk),
        "status": run.status,
        "workflow": run.workflow_id,
        "created_by": {"id": creator.pk, "name": creator.get_username()} if creator is not None else None,
        "created": run.created.isoformat() if run.created else None,
    }


def run_message(run: Run) -> dict[str, Any]:
    return {"type": "coedit.run", "run": run_summary(run)}


def publish_run(workflow_id: int, run: Run) -> None:
    """Tell the workflow's open editors about ``run`` (without waiting for the channel layer)."""
    from backend.runs.publish import publish_messages

    publish_messages([(runs_group(workflow_id), run_message(run))])


class WorkflowRunsConsumer(LiveConsumerMixin, AsyncJsonWebsocketConsumer):
    workflow_id = 0

    async def connect(self) -> None:
        user = await self.accept_signed_in()
        if user is None:
            return
        self.user = user
        self.workflow_id = int(self.scope["url_route"]["kwargs"]["workflow_id"])
        workspace_id = await database_sync_to_async(_workspace_if_readable)(user, self.workflow_id)
        if workspace_id is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        from backend.coedit.consumers import workspace_group

        # Joined before the unfinished runs are read: a run queued meanwhile comes twice rather than never.
        await self.join(runs_group(self.workflow_id))
        await self.join(workspace_group(workspace_id))
        for summary in await database_sync_to_async(_unfinished)(self.workflow_id, workspace_id):
            await self.send_json({"type": "run", "run": summary})

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        pass  # the feed only speaks

    async def coedit_run(self, message: dict[str, Any]) -> None:
        await self.send_json({"type": "run", "run": message["run"]})

    async def coedit_membership(self, message: dict[str, Any]) -> None:
        """A membership of this workspace changed: close this socket if its user may no longer read the runs."""
        if message["user_id"] != self.user.pk:
            return
        if await database_sync_to_async(_workspace_if_readable)(self.user, self.workflow_id) is None:
            await self.close(code=CLOSE_NOT_FOUND)


def _workspace_if_readable(user: Any, workflow_id: int) -> int | None:
    try:
        workflow, _ = access_workflow_draft(user, workflow_id)
    except NotFound:
        return None
    return workflow.workspace_id


def _unfinished(workflow_id: int, workspace_id: int) -> list[dict[str, Any]]:
    """The newest unfinished runs of the workflow and of the raw-graph runs shared in it, oldest first. A shared
    run is named only while it is a raw-graph run of the workflow's workspace (what its share was checked for), so
    every member who may read the feed may read it."""
    from django.db.models import Q

    from backend.runs.models import Run

    runs = (
        Run.objects.filter(
            Q(workflow_id=workflow_id)
            | Q(shared_in__workflow_id=workflow_id, workspace_id=workspace_id, workflow__isnull=True)
        )
        .exclude(status__in=Run.FINISHED)
        .select_related("created_by")
        .only("id", "status", "workflow_id", "created", "created_by", "created_by__username")
        .order_by("-created")[:RECENT_UNFINISHED]
    )
    return [run_summary(run) for run in reversed(runs)]
