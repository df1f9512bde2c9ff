"""Who may see and change workflows (loaded through backend/accounts/access.py, the one entry point).

A workflow is seen by the members of its workspace: team-visible ones by all of them, private ones by their
author and the roles that see private workflows; site templates by every signed-in user (``Workflow.is_visible_to``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Exists, OuterRef, Q, QuerySet
from rest_framework.exceptions import NotFound

from backend.accounts.access_base import as_role, caller_id, check_need, role_subquery
from backend.accounts.models import AnyUser, Membership
from backend.accounts.roles import Need, Role

if TYPE_CHECKING:
    from backend.workflows.models import Workflow, WorkflowVersion


def member_sees_workflow(user_id: int, workflow: str = "", *, or_none: bool = False) -> Q:
    """A filter for rows of a workspace the user is a member of whose workflow they may see.

    ``workflow`` is the path from the filtered model to its workflow ("" when filtering workflows, "workflow__"
    for runs); the row's own ``workspace`` decides membership. ``or_none`` also admits rows without a workflow.
    The same rule as ``Workflow.is_visible_to``, written for querysets: team-visible workflows, the user's
    own, and every one for the roles that see private workflows.
    """
    from backend.workflows.models import Workflow

    member = Membership.objects.filter(workspace=OuterRef("workspace"), user_id=user_id)
    sees_private = member.filter(role__in=[role for role in Role if role.can_see_private_workflows])
    sees = (
        Q(**{f"{workflow}visibility": Workflow.Visibility.TEAM})
        | Q(**{f"{workflow}created_by_id": user_id})
        | Q(Exists(sees_private))
    )
    if or_none:
        sees = Q(**{f"{workflow}isnull": True}) | sees
    return Q(Exists(member)) & sees


def visible_workflows(user: AnyUser) -> QuerySet[Workflow]:
    """Every workflow the user may see as a member: team-visible ones, their own, and all of it for admins."""
    from backend.workflows.models import Workflow

    user_id = caller_id(user)
    if user_id is None:
        return Workflow.objects.none()
    return Workflow.objects.filter(member_sees_workflow(user_id))


def access_workflow(user: AnyUser, workflow_id: int | str, need: Need = Need.VIEW) -> Workflow:
    """Load a workflow the user may see; site templates are viewable (and forkable) by every signed-in user."""
    from backend.workflows.models import Workflow

    try:
        workflow = (
            Workflow.objects.select_related("workspace", "created_by", "forked_from")
            .annotate(member_role=role_subquery(user, "workspace"))
            .get(pk=int(workflow_id))
        )
    except (Workflow.DoesNotExist, TypeError, ValueError):
        raise NotFound("No such workflow.") from None
    workflow.role = as_role(workflow.member_role)
    if not workflow.is_visible_to(user, workflow.role):
        raise NotFound("No such workflow.")
    if need == Need.VIEW:
        return workflow
    check_need(workflow.role, need, "workflow")
    return workflow


def access_workflow_version(
    user: AnyUser, workflow_id: int | str, number: int | str, need: Need = Need.VIEW
) -> WorkflowVersion:
    """Load version ``number`` of a workflow the user may see; ``version.workflow.role`` holds the role."""
    workflow = access_workflow(user, workflow_id, need)
    try:
        version = workflow.versions.get(number=int(number))
    except (ValueError, TypeError, workflow.versions.model.DoesNotExist):
        raise NotFound(f"Workflow {workflow.pk} has no version {number}.") from None
    version.workflow = workflow
    return version
