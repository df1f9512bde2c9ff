"""Users, workspaces (personal or team), memberships with roles, API tokens and invite links."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import TypeAlias

from django.conf import settings
from django.contrib.auth.models import AbstractUser, AnonymousUser
from django.db import models
from django.utils import timezone

from backend.accounts.roles import Role

TOKEN_PREFIX = "fy_"


def hash_secret(raw: str) -> str:
    """The sha256 hex digest stored instead of a token or invite secret."""
    return hashlib.sha256(raw.encode()).hexdigest()


def new_secret(prefix: str = "") -> str:
    """A new unguessable secret (256 bits)."""
    return prefix + secrets.token_urlsafe(32)


class User(AbstractUser):
    """A person; site admins (``is_superuser``) may curate the site-wide template gallery."""

    @property
    def is_site_admin(self) -> bool:
        return self.is_active and self.is_superuser


# Whoever a request comes from (``request.user``): the access loaders take either and treat anonymous as no one.
AnyUser: TypeAlias = "User | AnonymousUser"


class Workspace(models.Model):
    """Where workflows live: every user's personal workspace, or a team's shared one."""

    class Kind(models.TextChoices):
        PERSONAL = "personal", "Personal"
        TEAM = "team", "Team"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=120, unique=True)
    # Set on personal workspaces only: finds a user's personal workspace in one lookup.
    personal_owner = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="personal_workspace",
    )
    created = models.DateTimeField(default=timezone.now)

    # Not a column: the caller's role, set by the loaders of backend/accounts/access.py (only members load one).
    role: Role

    class Meta:
        ordering = ["kind", "name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind="personal", personal_owner__isnull=False)
                | models.Q(kind="team", personal_owner__isnull=True),
                name="workspace_personal_owner_matches_kind",
            )
        ]

    def __str__(self) -> str:
        return self.slug

    @property
    def is_team(self) -> bool:
        return self.kind == self.Kind.TEAM

    def owner_membership(self) -> Membership:
        """The owner's membership (a workspace always has exactly one owner)."""
        return self.memberships.select_related("user").get(role=Role.OWNER)


class Membership(models.Model):
    """A user's role in a workspace."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    joined = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["joined", "id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="membership_unique_user"),
            # The database holds the "exactly one owner" line even if an action forgets to.
            models.UniqueConstraint(
                fields=["workspace"], condition=models.Q(role="owner"), name="membership_one_owner"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.workspace_id}:{self.role}"

    @property
    def role_obj(self) -> Role:
        return Role(self.role)


class ApiToken(models.Model):
    """A personal API token; only its sha256 is stored, the prefix helps the user recognise it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16)
    token_hash = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(default=timezone.now)
    last_used = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    # Not a column: the raw secret, set only on the answer that creates the token (only its hash is stored).
    token: str

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"

    def is_active(self) -> bool:
        return self.revoked_at is None


class Invite(models.Model):
    """A single-use, expiring link that makes whoever accepts it a member with ``role``."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="invites")
    role = models.CharField(max_length=16, choices=Role.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now)
    expires = models.DateTimeField()
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"invite {self.id} to {self.workspace_id} as {self.role}"

    def is_expired(self, now: datetime | None = None) -> bool:
        return (now or timezone.now()) >= self.expires

    def is_pending(self, now: datetime | None = None) -> bool:
        """True while the link can still be accepted."""
        return self.used_at is None and self.revoked_at is None and not self.is_expired(now)
