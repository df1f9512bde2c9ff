"""The node-pack marketplace: publishers, packs, immutable versions and per-workspace installs."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from packaging.version import InvalidVersion, Version

from backend.accounts.models import Workspace


class ImmutableVersionError(RuntimeError):
    """Raised on an attempt to change the content of a saved pack version."""


def parse_version(text: str) -> Version | None:
    """The version as a comparable ``packaging`` Version, or None when it is not one."""
    try:
        return Version(text)
    except (InvalidVersion, TypeError):
        return None


class Publisher(models.Model):
    """Who publishes packs: one user, or a team workspace (whose owner and admins publish)."""

    slug = models.SlugField(max_length=39, unique=True)
    display_name = models.CharField(max_length=100)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="publisher",
    )
    workspace = models.OneToOneField(
        Workspace, on_delete=models.CASCADE, null=True, blank=True, related_name="publisher"
    )
    # Set by site admins: clean uploads of a trusted publisher become active without a review.
    trusted = models.BooleanField(default=False)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(user__isnull=False, workspace__isnull=True)
                | models.Q(user__isnull=True, workspace__isnull=False),
                name="publisher_user_xor_workspace",
            )
        ]

    def __str__(self) -> str:
        return self.slug

    @property
    def kind(self) -> str:
        return "user" if self.user_id else "team"


class NodePack(models.Model):
    """A named pack of a publisher; its code lives in immutable versions."""

    class Visibility(models.TextChoices):
        PUBLIC = "public", "Public"  # every signed-in user
        TEAM = (
            "team",
            "Team only",
        )  # members of the publisher's team (the publishing user for a user publisher)
        PRIVATE = "private", "Private"  # the publisher only (its user, or its team's owner and admins)

    publisher = models.ForeignKey(Publisher, on_delete=models.PROTECT, related_name="packs")
    name = models.CharField(max_length=64, unique=True)
    display_name = models.CharField(max_length=64)
    description = models.CharField(max_length=500, blank=True, default="")
    visibility = models.CharField(max_length=16, choices=Visibility.choices, default=Visibility.PUBLIC)
    categories = models.JSONField(default=list)
    homepage = models.CharField(max_length=300, blank=True, default="")
    downloads = models.PositiveBigIntegerField(default=0)
    installs = models.PositiveBigIntegerField(default=0)  # installs ever made (upgrades not counted)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(default=timezone.now)

    # Not a column: whether the caller may publish to the pack, set by backend/accounts/access.py.
    can_manage: bool

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def latest_active(self) -> NodePackVersion | None:
        """The highest active, non-yanked version (what a plain install gets)."""
        candidates = [v for v in self.versions.filter(status=NodePackVersion.Status.ACTIVE, yanked=False)]
        return max(candidates, key=lambda v: v.sort_key, default=None)


class NodePackVersionQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        changed = set(kwargs) & NodePackVersion.CONTENT_FIELDS
        if changed:
            raise ImmutableVersionError(f"Pack versions are immutable: cannot update {sorted(changed)}.")
        return super().update(**kwargs)


class NodePackVersion(models.Model):
    """One uploaded archive of a pack. Its content never changes; its review state does."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"  # being validated, or clean and waiting for a reviewer
        ACTIVE = "active", "Active"  # installable
        FLAGGED = "flagged", "Flagged"  # high-severity scan findings: a site admin must approve it
        REJECTED = "rejected", "Rejected"  # validation errors, or a reviewer said no

    CONTENT_FIELDS = frozenset(
        {"pack", "version", "archive_sha256", "archive_size", "manifest", "uploaded_by", "created"}
    )

    pack = models.ForeignKey(NodePack, on_delete=models.CASCADE, related_name="versions")
    version = models.CharField(max_length=64)
    archive_sha256 = models.CharField(max_length=64)
    archive_size = models.PositiveBigIntegerField()
    manifest = models.JSONField(default=dict)
    files = models.JSONField(default=list)  # [{path, sha256, size}]: the validator's reading of the archive
    # Node schemas: from the report when the import check ran, or recorded later when the isolated pack host
    # loads the pack (``nodes_recorded_at`` says when; null while unknown).
    nodes = models.JSONField(default=list)
    nodes_recorded_at = models.DateTimeField(null=True, blank=True)
    readme_html = models.TextField(blank=True, default="")
    changelog = models.TextField(blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    findings = models.JSONField(default=list)
    errors = models.JSONField(default=list)
    report = models.JSONField(null=True, blank=True)
    validation_started = models.DateTimeField(null=True, blank=True)
    validated_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True, default="")
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    yanked = models.BooleanField(default=False)
    yank_reason = models.CharField(max_length=500, blank=True, default="")
    deprecated = models.CharField(max_length=500, blank=True, default="")  # a message; empty: not deprecated
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now)

    objects = NodePackVersionQuerySet.as_manager()

    class Meta:
        ordering = ["pack", "-created", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["pack", "version"], name="nodepackversion_unique_version"),
        ]
        indexes = [models.Index(fields=["status"])]

    def __str__(self) -> str:
        return f"{self.pack.name} {self.version}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding and kwargs.get("update_fields") is None:
            raise ImmutableVersionError(
                "Pack versions are immutable; save with update_fields of review state."
            )
        if not self._state.adding and set(kwargs["update_fields"]) & self.CONTENT_FIELDS:
            raise ImmutableVersionError("Pack versions are immutable; upload a new version instead.")
        super().save(*args, **kwargs)

    @property
    def sort_key(self) -> Version:
        return parse_version(self.version) or Version("0")

    def is_validated(self) -> bool:
        return self.validated_at is not None

    def is_installable(self) -> bool:
        """True when a workspace may newly install (or upgrade to) this version."""
        return self.status == self.Status.ACTIVE and not self.yanked

    def verdict(self) -> str:
        """One sentence saying where this version stands and why."""
        name = f"{self.pack.name} {self.version}"
        if self.status == self.Status.PENDING and not self.is_validated():
            return f"{name} was uploaded and is being validated; poll this version for the verdict."
        if self.status == self.Status.PENDING:
            return f"{name} is valid and waits for a site admin's review (the publisher is not trusted)."
        if self.status == self.Status.FLAGGED:
            high = sum(1 for f in self.findings if f.get("severity") == "high")
            return f"{name} is valid but flagged: {high} high-severity scan finding(s) wait for a site admin's review."
        if self.status == self.Status.REJECTED:
            return f"{name} was rejected: {self.review_note}"
        text = f"{name} is active and can be installed."
        if self.yanked:
            text = (
                f"{name} was yanked ({self.yank_reason or 'no reason given'}): it can no longer be installed."
            )
        return text


class TeamPackInstall(models.Model):
    """A pack installed in a workspace, pinned to one version (runs of the workspace use that version)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="pack_installs")
    pack = models.ForeignKey(NodePack, on_delete=models.PROTECT, related_name="installations")
    version = models.ForeignKey(NodePackVersion, on_delete=models.PROTECT, related_name="installations")
    installed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["workspace", "pack__name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "pack"], name="teampackinstall_unique_pack"),
        ]

    def __str__(self) -> str:
        return f"{self.pack_id}@{self.workspace_id}"
