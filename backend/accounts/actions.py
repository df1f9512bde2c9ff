"""Every write to accounts, workspaces, memberships, tokens and invites; each runs in one transaction.

Actions are durable (``atomic(durable=True)``): called inside another transaction they raise instead of quietly
becoming part of it, so what one wrote is committed when it returns. ``do_ensure_personal_workspace`` is not: a
new user's save runs it (``do_create_user``, and the ``post_save`` signal for users made elsewhere).

Actions trust that the caller was loaded through access.py for the basic need; they check the rules that
depend on more than one role (who may change whom) and keep the invariants (a team has exactly one owner).
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from rest_framework.exceptions import NotFound, PermissionDenied

from backend.accounts.authentication import forget_tokens
from backend.accounts.exceptions import ApiError, field_error
from backend.accounts.models import (
    TOKEN_PREFIX,
    ApiToken,
    Invite,
    Membership,
    User,
    Workspace,
    hash_secret,
    new_secret,
)
from backend.accounts.roles import Role

MAX_INVITE_HOURS = 24 * 30


def _unique_slug(base: str) -> str:
    base = (slugify(base) or "workspace")[:100]
    slug, n = base, 1
    while Workspace.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


# Users


@transaction.atomic(durable=True)
def do_create_user(username: str, password: str | None, email: str = "") -> User:
    """Create a user with their personal workspace; the first user of an installation becomes site admin."""
    # Two sign-ups racing on an empty installation could both become admin; harmless, and rare enough.
    first = not User.objects.exists()
    user = User(username=username, email=email or "")
    user.set_password(password) if password else user.set_unusable_password()
    if first:
        user.is_staff = True
        user.is_superuser = True
    user.save()
    do_ensure_personal_workspace(user)
    return user


def do_sign_up(username: str, password: str, email: str = "") -> User | None:
    """Create an account, or return None when the username is taken in any letter case.

    A taken name costs the same password hashing as a new account, so the answer's timing does not tell the two
    apart either.
    """
    if User.objects.filter(username__iexact=username).exists():
        make_password(password)
        return None
    try:
        return do_create_user(username, password, email)
    except IntegrityError:  # a concurrent sign-up took the name
        return None


@transaction.atomic  # not durable: do_create_user and the post_save signal run it inside theirs
def do_ensure_personal_workspace(user: User) -> Workspace:
    """Return the user's personal workspace, creating it (owned by them) if missing."""
    workspace = Workspace.objects.filter(personal_owner=user).first()
    if workspace is None:
        workspace = Workspace.objects.create(
            kind=Workspace.Kind.PERSONAL,
            name=user.username,
            slug=_unique_slug(user.username),
            personal_owner=user,
        )
        Membership.objects.create(workspace=workspace, user=user, role=Role.OWNER)
    return workspace


# Teams


@transaction.atomic(durable=True)
def do_create_team(user: User, name: str) -> Workspace:
    """Create a team workspace owned by ``user``."""
    team = Workspace.objects.create(kind=Workspace.Kind.TEAM, name=name, slug=_unique_slug(name))
    Membership.objects.create(workspace=team, user=user, role=Role.OWNER)
    team.role = Role.OWNER
    return team


@transaction.atomic(durable=True)
def do_rename_team(team: Workspace, name: str) -> Workspace:
    Workspace.objects.filter(pk=team.pk).update(name=name)
    team.name = name
    return team


@transaction.atomic(durable=True)
def do_delete_team(team: Workspace) -> None:
    """Delete a team with its memberships, invites and workflows."""
    if not team.is_team:
        raise ApiError("A personal workspace cannot be deleted.")
    team.delete()


# Members


def _membership(team: Workspace, user_id: int, lock: bool = False) -> Membership:
    queryset = Membership.objects.select_related("user")
    if lock:
        queryset = queryset.select_for_update()
    try:
        return queryset.get(workspace=team, user_id=user_id)
    except (Membership.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such member.") from None


def _require_team(workspace: Workspace) -> None:
    if not workspace.is_team:
        raise ApiError("Personal workspaces have no other members; create a team.")


@transaction.atomic(durable=True)
def do_add_member(team: Workspace, actor_role: Role, user: User, role: Role) -> Membership:
    """Make ``user`` a member of ``team`` with ``role`` (invite by username: membership is immediate)."""
    _require_team(team)
    if not actor_role.can_assign(role):
        raise PermissionDenied(f"An {actor_role} cannot give the role '{role}'.")
    try:
        with transaction.atomic():
            return Membership.objects.create(workspace=team, user=user, role=role)
    except IntegrityError:
        raise field_error("username", f"{user.username} is already a member of this team.") from None


@transaction.atomic(durable=True)
def do_change_role(team: Workspace, actor: User, actor_role: Role, user_id: int, role: Role) -> Membership:
    """Change a member's role; owners and admins change only members ranked below them."""
    _require_team(team)
    membership = _membership(team, user_id, lock=True)
    if membership.user_id == actor.pk:
        raise PermissionDenied(
            "You cannot change your own role; ask someone above you, or transfer ownership."
        )
    if not actor_role.can_manage(membership.role_obj):
        raise PermissionDenied(f"An {actor_role} cannot change the role of an {membership.role}.")
    if not actor_role.can_assign(role):
        raise PermissionDenied(f"An {actor_role} cannot give the role '{role}'.")
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic(durable=True)
def do_remove_member(team: Workspace, actor: User, actor_role: Role, user_id: int) -> None:
    """Remove a member ranked below the actor (members leave with ``do_leave``)."""
    _require_team(team)
    membership = _membership(team, user_id, lock=True)
    if membership.user_id == actor.pk:
        raise PermissionDenied("Use leave to remove yourself.")
    if not actor_role.can_manage(membership.role_obj):
        raise PermissionDenied(f"An {actor_role} cannot remove an {membership.role}.")
    membership.delete()


@transaction.atomic(durable=True)
def do_leave(team: Workspace, user: User) -> None:
    """Leave a team; the owner must transfer ownership first."""
    _require_team(team)
    membership = _membership(team, user.pk, lock=True)
    if membership.role_obj.is_owner:
        raise ApiError(
            "The owner cannot leave a team; transfer ownership to another member first.", status_code=409
        )
    membership.delete()


@transaction.atomic(durable=True)
def do_transfer_ownership(team: Workspace, owner: User, new_owner_id: int) -> Membership:
    """Make another member the owner; the previous owner becomes an admin."""
    _require_team(team)
    current = _membership(team, owner.pk, lock=True)
    if not current.role_obj.is_owner:
        raise PermissionDenied("Only the owner can transfer ownership.")
    if new_owner_id == owner.pk:
        raise field_error("user_id", "You already own this team.")
    try:
        target = _membership(team, new_owner_id, lock=True)
    except NotFound:
        raise field_error("user_id", "The new owner must already be a member of the team.") from None
    # Demote first: the partial unique index allows only one owner row at any moment.
    current.role = Role.ADMIN
    current.save(update_fields=["role"])
    target.role = Role.OWNER
    target.save(update_fields=["role"])
    return target


# Invites


@transaction.atomic(durable=True)
def do_create_invite(
    team: Workspace, actor: User, actor_role: Role, role: Role, hours: int
) -> tuple[Invite, str]:
    """Create a single-use invite link; returns the invite and its secret (shown once, stored hashed)."""
    _require_team(team)
    if not actor_role.can_assign(role):
        raise PermissionDenied(f"An {actor_role} cannot invite with the role '{role}'.")
    if not 1 <= hours <= MAX_INVITE_HOURS:
        raise field_error("expires_in_hours", f"Must be between 1 and {MAX_INVITE_HOURS}.")
    raw = new_secret()
    invite = Invite.objects.create(
        workspace=team,
        role=role,
        token_hash=hash_secret(raw),
        created_by=actor,
        expires=timezone.now() + timedelta(hours=hours),
    )
    return invite, raw


@transaction.atomic(durable=True)
def do_revoke_invite(team: Workspace, invite_id: int) -> None:
    updated = Invite.objects.filter(
        workspace=team, pk=invite_id, used_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
    if not updated:
        raise NotFound("No such pending invite.")


@transaction.atomic(durable=True)
def do_accept_invite(raw: str, user: User) -> Membership:
    """Join the invite's team; the link is used up (single use) unless the user is already a member."""
    invite = (
        Invite.objects.select_for_update()
        .select_related("workspace")
        .filter(token_hash=hash_secret(raw), used_at__isnull=True, revoked_at__isnull=True)
        .first()
    )
    if invite is None:
        raise NotFound("This invite link is unknown, already used or revoked.")
    if invite.is_expired():
        raise ApiError("This invite link has expired; ask for a new one.", status_code=410)
    if Membership.objects.filter(workspace=invite.workspace, user=user).exists():
        raise ApiError("You are already a member of this team.", status_code=409)
    membership = Membership.objects.create(workspace=invite.workspace, user=user, role=invite.role)
    invite.used_by = user
    invite.used_at = timezone.now()
    invite.save(update_fields=["used_by", "used_at"])
    return membership


# API tokens


@transaction.atomic(durable=True)
def do_create_token(user: User, name: str) -> tuple[ApiToken, str]:
    """Create an API token; returns the row and the raw token, which is never stored and shown only once."""
    raw = new_secret(TOKEN_PREFIX)
    token = ApiToken.objects.create(user=user, name=name, prefix=raw[:10], token_hash=hash_secret(raw))
    return token, raw


@transaction.atomic(durable=True)
def do_revoke_token(user: User, token_id: int) -> None:
    updated = ApiToken.objects.filter(user=user, pk=token_id, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if not updated:
        raise NotFound("No such token.")
    # Refused by this process at once (and again at the commit, in case a request read the row meanwhile); by the
    # others within TOKEN_CACHE_SECONDS.
    forget_tokens(token_id=token_id)
    transaction.on_commit(lambda: forget_tokens(token_id=token_id))
