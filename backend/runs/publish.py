"""Publishing run events to the channel layer: the seam between the recorder and live clients.

Two groups carry runs:

- ``run.<run id>`` gets ``{"type": "run.events", "run": "<id>", "events": [event, ...]}``, one message per
  batch the recorder stored, each event ``{"seq", "type", "node", "data", "time"}`` exactly as the events API
  replays it;
- ``workspace.<workspace id>`` gets ``{"type": "run.status", "run": {...}}`` (``run_status``) whenever a run of
  the workspace is queued, starts, finishes or is cancelled.

Events are stored before they are published, so a client that misses a message replays it from the database
(``GET /api/runs/<id>/events?after=<seq>``). A failure to publish is logged and never fails the run.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

if TYPE_CHECKING:
    from backend.runs.models import Run

logger = logging.getLogger(__name__)

STATUS_EVENTS = frozenset({"run_started", "run_finished"})


def run_group(run_id: Any) -> str:
    """The group a run's events go to."""
    return f"run.{run_id}"


def workspace_group(workspace_id: Any) -> str:
    """The group a workspace's run status changes go to."""
    return f"workspace.{workspace_id}"


def run_status(run: Run) -> dict[str, Any]:
    """The short form of a run sent on status changes."""
    return {
        "id": str(run.pk),
        "status": run.status,
        "workspace": run.workspace_id,
        "workflow": run.workflow_id,
        "created_by": run.created_by_id,
        "priority": run.priority,
        "created": _iso(run.created),
        "started": _iso(run.started),
        "finished": _iso(run.finished),
        "error": run.error,
        "last_seq": run.last_seq,
    }


def publish_run_events(run: Run, events_json: list[dict[str, Any]]) -> None:
    """Send one stored batch of ``run``'s events to its group, and its status to the workspace if it changed."""
    if not events_json:
        return
    messages = [
        (run_group(run.pk), {"type": "run.events", "run": str(run.pk), "events": events_json}),
    ]
    if any(event["type"] in STATUS_EVENTS for event in events_json):
        messages.append((workspace_group(run.workspace_id), {"type": "run.status", "run": run_status(run)}))
    _send(messages)


def publish_run_status(run: Run) -> None:
    """Tell the run's workspace that the run's status changed (queued, cancelled, deleted...)."""
    _send([(workspace_group(run.workspace_id), {"type": "run.status", "run": run_status(run)})])


def _send(messages: list[tuple[str, dict[str, Any]]]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        # One event loop for the whole batch: async_to_sync costs a loop (and a connection) per call.
        async_to_sync(_send_all)(layer, messages)
    except Exception:
        logger.exception("could not publish %d run message(s)", len(messages))


async def _send_all(layer: Any, messages: list[tuple[str, dict[str, Any]]]) -> None:
    for group, message in messages:
        await layer.group_send(group, message)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
