"""Tell the co-editing sockets of a workspace when a membership changes, once the change is committed; make a
version saved or restored other than from the draft the draft's content (``reset.py``), and tell a workflow's
editors of every version saved; tell them when one of its runs is queued (``run_feed.py``)."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from backend.accounts.models import Membership
from backend.workflows.models import WorkflowVersion
from backend.workflows.signals import version_saved

logger = logging.getLogger(__name__)


def _publish(membership: Membership) -> None:
    from backend.coedit.consumers import workspace_group
    from backend.runs.publish import publish_messages

    message = {"type": "coedit.membership", "user_id": membership.user_id}
    group = workspace_group(membership.workspace_id)
    transaction.on_commit(lambda: publish_messages([(group, message)]))


@receiver(post_delete, sender=Membership, dispatch_uid="coedit.membership_removed")
def membership_removed(sender: Any, instance: Membership, **kwargs: Any) -> None:
    _publish(instance)


@receiver(post_save, sender=Membership, dispatch_uid="coedit.membership_saved")
def membership_saved(sender: Any, instance: Membership, created: bool, **kwargs: Any) -> None:
    if not created:
        _publish(instance)  # a changed role may change whether the member writes


@receiver(version_saved, sender=WorkflowVersion, dispatch_uid="coedit.version_saved")
def version_replaces_draft(
    sender: Any, version: WorkflowVersion, created: bool, source: str, **kwargs: Any
) -> None:
    """A restore (even of the latest content) or a new version saved outside the draft resets the draft to it;
    the draft's own save does not (edits made since it was read must stay), nor a save that changed nothing.
    Then the workflow's open editors are told which version is now the latest (after the reset's update, in the
    same group: a tab has the reset content when it compares its graph with the version)."""
    from backend.coedit.reset import reset_draft_to_version

    if source != "draft" and (source != "save" or created):
        try:
            reset_draft_to_version(version)
        except Exception:
            logger.exception(
                "could not reset the draft of workflow %s to version %s", version.workflow_id, version.number
            )
    publish_version_saved(version, created, source)


def publish_version_saved(version: WorkflowVersion, created: bool, source: str) -> None:
    """Tell the document sockets of the workflow (every process) that ``version`` is the latest version: each
    sends its tab ``{"type": "version_saved", "version", "created", "source"}`` (``consumers.py``)."""
    from backend.coedit.rooms import group_name
    from backend.runs.publish import publish_messages

    message = {"type": "coedit.version", "version": version.number, "created": created, "source": source}
    publish_messages([(group_name(version.workflow_id), message)])


@receiver(post_save, sender="runs.Run", dispatch_uid="coedit.run_queued")
def run_queued(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    """A run of a workflow was queued: its open editors are told once the submit commits."""
    if not created or instance.workflow_id is None:
        return
    from backend.coedit.run_feed import publish_run

    workflow_id = instance.workflow_id
    transaction.on_commit(lambda: publish_run(workflow_id, instance))
