"""What every app's access rules share: the caller's role in a workspace, the need check, who is a site admin,
and which workflows a member may see.

Rules live beside each app (``backend/<app>/access_rules.py``) and build on these; views import them all from
``backend/accounts/access.py``, the one entry point.
"""

from __future__ import annotations

from django.db.models import CharField, OuterRef, Subquery, Value
from rest_framework.exceptions import NotFound, PermissionDenied

from backend.accounts.models import AnyUser, Membership, Workspace
from backend.accounts.roles import Need, Role


def caller_id(user: AnyUser | None) -> int | None:
    """The signed-in user's id; None for an anonymous caller (no one's member)."""
    return user.pk if user is not None and user.is_authenticated else None


def as_role(value: str | None) -> Role | None:
    """A role read from a ``role_subquery`` annotation (None: not a member)."""
    return Role(value) if value else None


def role_subquery(user: AnyUser | None, workspace_ref: str = "pk") -> Subquery | Value:
    """A subquery giving ``user``'s role in the workspace at ``workspace_ref`` (an OuterRef path); NULL for an
    anonymous caller, who is no one's member."""
    user_id = caller_id(user)
    if user_id is None:
        return Value(None, output_field=CharField())
    return Subquery(
        Membership.objects.filter(workspace=OuterRef(workspace_ref), user_id=user_id).values("role")[:1]
    )


def role_in(user: AnyUser | None, workspace: Workspace | int) -> Role | None:
    """The user's role in the workspace, or None when not a member (one query)."""
    user_id = caller_id(user)
    if user_id is None:
        return None
    workspace_id = workspace.pk if isinstance(workspace, Workspace) else workspace
    role = Membership.objects.filter(workspace_id=workspace_id, user_id=user_id).values_list(
        "role", flat=True
    )
    return as_role(role.first())


def check_need(role: Role | None, need: Need, what: str = "object") -> None:
    """Raise 403 unless ``role`` grants ``need`` (call only after the object is known to be visible)."""
    if role is None or not role.allows(need):
        raise PermissionDenied(f"Your role does not allow this action on this {what} (needs '{need}').")


def access_workspace(
    user: AnyUser, workspace_id: int | str | None, need: Need = Need.VIEW, kind: str | None = None
) -> Workspace:
    """Load a workspace the user is a member of; ``kind`` restricts to personal or team workspaces."""
    if workspace_id is None:
        raise NotFound("No such workspace.")
    queryset = Workspace.objects.annotate(member_role=role_subquery(user))
    if kind is not None:
        queryset = queryset.filter(kind=kind)
    try:
        workspace = queryset.get(pk=int(workspace_id))
    except (Workspace.DoesNotExist, TypeError, ValueError):
        raise NotFound("No such workspace.") from None
    role = as_role(workspace.member_role)
    if role is None:
        raise NotFound("No such workspace.")
    workspace.role = role
    check_need(role, need, "workspace")
    return workspace


def access_team(user: AnyUser, team_id: int | str, need: Need = Need.VIEW) -> Workspace:
    """Load a team workspace (personal workspaces answer 404 here)."""
    try:
        return access_workspace(user, team_id, need, kind=Workspace.Kind.TEAM)
    except NotFound:
        raise NotFound("No such team.") from None


def is_site_admin(user: AnyUser | None) -> bool:
    """Whether the caller is a signed-in site admin."""
    return bool(user is not None and user.is_authenticated and getattr(user, "is_site_admin", False))


def check_site_admin(user: AnyUser, action: str) -> None:
    """Raise 403 unless the user is a site admin; ``action`` says what was refused (site-wide things, such as
    the model library, have no workspace role to check)."""
    if not is_site_admin(user):
        raise PermissionDenied(f"Only site admins may {action}.")
