"""Tell the co-editing sockets of a workspace when a membership changes, once the change is committed."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from backend.accounts.models import Membership


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
