"""Workflows and their immutable versions."""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.utils import timezone

from backend.accounts.models import AnyUser, Workspace
from backend.accounts.roles import Role


class ImmutableVersionError(RuntimeError):
    """Raised on any attempt to change a saved WorkflowVersion."""


class Workflow(models.Model):
    """A named graph in a workspace; its content lives in numbered, immutable versions."""

    class Visibility(models.TextChoices):
        PRIVATE = "private", "Private"  # the creator and the workspace's owner and admins
        TEAM = "team", "Team"  # every member of the workspace, each per their role

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="workflows")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    visibility = models.CharField(max_length=16, choices=Visibility.choices, default=Visibility.TEAM)
    public_token = models.CharField(max_length=64, unique=True, null=True, blank=True)
    is_template = models.BooleanField(default=False)
    is_site_template = models.BooleanField(default=False)
    forked_from = models.ForeignKey(
        "WorkflowVersion", on_delete=models.SET_NULL, null=True, blank=True, related_name="forks"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="workflows"
    )
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(default=timezone.now)

    # Not a column: the caller's role in the workspace (None for a site template seen by a non-member), set by
    # the loaders of backend/accounts/access.py.
    role: Role | None

    class Meta:
        ordering = ["-updated", "-id"]
        indexes = [models.Index(fields=["workspace", "-updated"])]

    def __str__(self) -> str:
        return self.name

    def is_visible_to(self, user: AnyUser, role: Role | None) -> bool:
        """True when ``user`` (whose role in the workspace is ``role``) may see this workflow."""
        if role is not None and (
            self.visibility == self.Visibility.TEAM
            or self.created_by_id == user.pk
            or Role(role).can_see_private_workflows
        ):
            return True
        return self.is_site_template and user is not None and user.is_authenticated

    def is_public(self) -> bool:
        return self.public_token is not None

    def latest_version(self) -> WorkflowVersion | None:
        return self.versions.order_by("-number").first()


class WorkflowVersionQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> NoReturn:
        raise ImmutableVersionError("Workflow versions are immutable; save a new version instead.")


class WorkflowVersion(models.Model):
    """One saved state of a workflow's document; never changed once written."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    graph = models.JSONField()
    layout = models.JSONField(default=dict)
    content_hash = models.CharField(max_length=64)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    message = models.CharField(max_length=500, blank=True, default="")
    packs = models.JSONField(default=dict)  # {pack name: version} used by the graph when saved
    created = models.DateTimeField(default=timezone.now)

    objects = WorkflowVersionQuerySet.as_manager()

    class Meta:
        ordering = ["workflow", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["workflow", "number"], name="workflowversion_unique_number"),
            models.CheckConstraint(condition=models.Q(number__gte=1), name="workflowversion_number_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.workflow_id} v{self.number}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ImmutableVersionError("Workflow versions are immutable; save a new version instead.")
        super().save(*args, **kwargs)
