"""Who may manage automation (loaded through backend/accounts/access.py, the one entry point): a workflow's
webhooks, triggers and schedules by those who may edit the workflow (they hold secrets and start runs as their
owner); a workspace-wide webhook by its admins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from django.core.exceptions import ValidationError
from rest_framework.exceptions import NotFound

from backend.accounts.access_base import as_role, check_need, role_subquery
from backend.accounts.models import AnyUser
from backend.accounts.roles import Need

if TYPE_CHECKING:
    from backend.automation.models import Schedule, Trigger, Webhook


def _access_automation(model: Any, user: AnyUser, object_id: UUID | str, need: Need, what: str) -> Any:
    try:
        found = (
            model.objects.select_related("workflow", "workflow__workspace")
            .annotate(member_role=role_subquery(user, "workflow__workspace"))
            .get(pk=object_id)
        )
    except (model.DoesNotExist, TypeError, ValueError, ValidationError):
        raise NotFound(f"No such {what}.") from None
    role = as_role(found.member_role)
    if role is None or not found.workflow.is_visible_to(user, role):
        raise NotFound(f"No such {what}.")
    found.role = role
    found.workflow.role = role
    check_need(role, need, what)
    return found


def access_webhook(user: AnyUser, webhook_id: UUID | str, need: Need = Need.EDIT) -> Webhook:
    """Load a webhook: a workflow's needs ``need`` on the workflow, a workspace-wide one ``admin`` there."""
    from backend.automation.models import Webhook

    try:
        webhook = (
            Webhook.objects.select_related("workspace", "workflow")
            .annotate(member_role=role_subquery(user, "workspace"))
            .get(pk=webhook_id)
        )
    except (Webhook.DoesNotExist, TypeError, ValueError, ValidationError):
        raise NotFound("No such webhook.") from None
    role = as_role(webhook.member_role)
    if role is None or (webhook.workflow is not None and not webhook.workflow.is_visible_to(user, role)):
        raise NotFound("No such webhook.")
    webhook.role = role
    check_need(role, need if webhook.workflow is not None else Need.ADMIN, "webhook")
    return webhook


def access_trigger(user: AnyUser, trigger_id: UUID | str, need: Need = Need.EDIT) -> Trigger:
    """Load a workflow's trigger to manage it (``need`` on the workflow)."""
    from backend.automation.models import Trigger

    return _access_automation(Trigger, user, trigger_id, need, "trigger")


def access_schedule(user: AnyUser, schedule_id: UUID | str, need: Need = Need.EDIT) -> Schedule:
    """Load a workflow's schedule to manage it (``need`` on the workflow)."""
    from backend.automation.models import Schedule

    return _access_automation(Schedule, user, schedule_id, need, "schedule")
