"""Who may see and decide approvals (loaded through backend/accounts/access.py, the one entry point).

Whoever may see a run sees its approvals; deciding one takes being one of its approvers (a workspace role at least
as high as the one named, or a named member): other members get 403, and who cannot see the run gets 404.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from rest_framework.exceptions import NotFound, PermissionDenied

from backend.accounts.access_base import as_role, caller_id
from backend.accounts.models import AnyUser, Membership
from backend.accounts.roles import Need
from backend.runs.access_rules import access_run, visible_runs

if TYPE_CHECKING:
    from backend.approvals.models import Approval
    from backend.runs.models import Run


def access_approval(
    user: AnyUser, run_id: UUID | str, approval_id: int | str, *, decide: bool = False
) -> Approval:
    """Load an approval of a run the user may see; ``decide=True`` also requires the user to be an approver."""
    from backend.approvals.models import Approval

    run = access_run(user, run_id, Need.VIEW, graphs=False)
    try:
        approval = Approval.objects.select_related("decided_by").get(pk=int(approval_id), run=run)
    except (Approval.DoesNotExist, TypeError, ValueError):
        raise NotFound("No such approval.") from None
    approval.run = run
    approval.caller_approves = approval.approves(user, run.role)  # type: ignore[attr-defined]
    if decide and not approval.caller_approves:
        raise PermissionDenied(
            f"Only the approvers of this step may decide it ({approval.approvers_text()})."
        )
    return approval


def approvals_for(user: AnyUser, run: Run) -> list[Approval]:
    """The approvals of a run loaded with ``access_run``, each knowing whether ``user`` approves it."""
    approvals = list(run.approvals.select_related("decided_by").order_by("requested", "id"))
    for approval in approvals:
        approval.run = run
        approval.caller_approves = approval.approves(user, run.role)  # type: ignore[attr-defined]
    return approvals


def visible_approvals(user: AnyUser, *, pending: bool = False, limit: int = 200) -> list[Approval]:
    """The approvals of the runs the user may see, newest first (at most ``limit``); ``pending``: only those the
    user may decide now."""
    from backend.approvals.models import Approval
    from backend.runs.models import Run

    user_id = caller_id(user)
    if user_id is None:
        return []
    approvals = Approval.objects.filter(run__in=visible_runs(user)).select_related(
        "run", "run__workflow", "decided_by"
    )
    if pending:
        approvals = approvals.filter(decision="", run__status=Run.Status.AWAITING_APPROVAL)
    roles = dict(Membership.objects.filter(user_id=user_id).values_list("workspace_id", "role"))
    found = []
    # Pending ones are few (runs paused now) and filtered here by approver; the others are cut in the query.
    for approval in approvals.order_by("-requested", "-id")[: None if pending else limit]:
        approval.caller_approves = approval.approves(user, as_role(roles.get(approval.run.workspace_id)))
        if approval.caller_approves or not pending:
            found.append(approval)
    return found[:limit]
