"""Apps: a pinned workflow version published as a form and a typed run endpoint, its API keys, and its runs.

What an app exposes (named inputs mapped to node widgets, named outputs) lives in the version's document
(``layout.app``, checked by backend/workflows/documents.py), so it is versioned with the graph it refers to.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from backend.accounts.models import Workspace
from backend.accounts.roles import Role

APP_KEY_PREFIX = "fyk_"


class App(models.Model):
    """A workflow version others use without the graph: by form (``/apps/<slug>``) or by endpoint."""

    class Visibility(models.TextChoices):
        WORKSPACE = "workspace", "Workspace members"
        PUBLIC = "public", "Anyone (rate-limited)"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="apps")
    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    workflow = models.ForeignKey("workflows.Workflow", on_delete=models.CASCADE, related_name="apps")
    version = models.ForeignKey(
        "workflows.WorkflowVersion",
        on_delete=models.CASCADE,
        related_name="apps",
        help_text="The pinned version every run of the app runs.",
    )
    visibility = models.CharField(max_length=16, choices=Visibility.choices, default=Visibility.WORKSPACE)
    public_rate_limit = models.PositiveIntegerField(
        default=10, help_text="Runs per minute per IP address that callers without a role may start."
    )
    enabled = models.BooleanField(default=True, help_text="Unpublished apps are seen by editors only.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="apps"
    )
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(default=timezone.now)

    # Not columns: set by backend/accounts/access.py: the caller's role in the workspace, and how the caller
    # reaches the app ("member", "key" or "public").
    role: Role | None
    via: str

    class Meta:
        ordering = ["title", "id"]

    def __str__(self) -> str:
        return self.slug

    @property
    def is_public(self) -> bool:
        return self.visibility == self.Visibility.PUBLIC

    def section(self) -> dict[str, Any]:
        """The pinned version's app section: ``{"inputs": [...], "outputs": [...]}`` (empty lists when none)."""
        app = (self.version.layout or {}).get("app") or {}
        return {"inputs": list(app.get("inputs") or []), "outputs": list(app.get("outputs") or [])}


class AppKey(models.Model):
    """A secret that may run one app and read the runs it started, nothing else; only its hash is stored."""

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="The first characters of the key, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="app_keys"
    )
    created = models.DateTimeField(default=timezone.now)
    last_used = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    # Not a column: the raw key, set only on the answer that creates it.
    raw: str

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.app_id}/{self.name}"

    def is_active(self) -> bool:
        return self.revoked_at is None


class AppRun(models.Model):
    """A run started through an app: who asked (a member, a key, a public caller) and its idempotency key.

    The row is written before the run when the request has an ``Idempotency-Key``, so that a concurrent retry
    finds it (``run`` is null until the run exists); a retry with the same key and body gets the same run.
    """

    class Via(models.TextChoices):
        MEMBER = "member", "Workspace member"
        KEY = "key", "App key"
        PUBLIC = "public", "Public"

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="app_runs")
    run = models.OneToOneField(
        "runs.Run", on_delete=models.CASCADE, null=True, blank=True, related_name="app_run"
    )
    via = models.CharField(max_length=8, choices=Via.choices)
    key = models.ForeignKey(AppKey, on_delete=models.SET_NULL, null=True, blank=True, related_name="app_runs")
    caller = models.CharField(max_length=100, help_text="user:<id>, key:<id> or ip:<address>.")
    idempotency_key = models.CharField(max_length=255, blank=True, default="")
    request_hash = models.CharField(max_length=64, blank=True, default="")
    inputs = models.JSONField(default=dict, help_text="The exposed inputs as resolved for this run.")
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["app", "caller", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="apprun_unique_idempotency_key",
            )
        ]
        indexes = [
            models.Index(fields=["app", "-created"], name="apprun_app_recent"),
            models.Index(fields=["app", "caller", "-created"], name="apprun_caller_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.app_id}:{self.run_id}"

    def is_pending(self) -> bool:
        """True while the run of an idempotent request is still being created."""
        return self.run_id is None


def runs_in_last_minute(app: App, caller: str, now: Any = None) -> list[Any]:
    """Start times of ``caller``'s runs of ``app`` in the last 60 s, oldest first (the public rate limit)."""
    since = (now or timezone.now()) - timedelta(seconds=60)
    return list(
        AppRun.objects.filter(app=app, caller=caller, created__gte=since)
        .order_by("created")
        .values_list("created", flat=True)
    )
