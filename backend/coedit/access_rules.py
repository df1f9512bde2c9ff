"""Who may join a workflow's draft and who may write to it (loaded through backend/accounts/access.py).

The draft is joined by the members who may see the workflow; editors and above write, viewers and runners read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.exceptions import NotFound

from backend.accounts.models import AnyUser
from backend.accounts.roles import Need
from backend.workflows.access_rules import access_workflow

if TYPE_CHECKING:
    from backend.workflows.models import Workflow


def access_workflow_draft(user: AnyUser, workflow_id: int | str) -> tuple[Workflow, bool]:
    """Load a workflow whose draft the user may join, and whether they may write to it (editors and above).
    Non-members (a site template's visitors) get ``NotFound``, as for a workflow they cannot see."""
    workflow = access_workflow(user, workflow_id, Need.VIEW)
    if workflow.role is None:
        raise NotFound("No such workflow.")
    return workflow, workflow.role.allows(Need.EDIT)
