"""Automation around workflows: webhooks out (with their deliveries and attempts), trigger URLs in, and cron
schedules. Rows answer questions about their state; ``actions.py`` and the delivery and schedule modules write.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils.timezone import now

from backend.accounts.models import Workspace
from backend.accounts.roles import Role

RUN_EVENTS = ("run.finished", "run.failed", "run.cancelled")
APPROVAL_EVENTS = ("approval.requested",)
EVENT_TYPES = (*RUN_EVENTS, *APPROVAL_EVENTS)


def event_for_status(status: str) -> str:
    """The webhook event type of a run that ended with ``status``: ``run.finished`` when it succeeded,
    ``run.cancelled`` when cancelled, ``run.failed`` for failed and any other terminal status (the payload's
    ``status`` says which)."""
    return {"succeeded": "run.finished", "cancelled": "run.cancelled"}.get(status, "run.failed")


class Webhook(models.Model):
    """An endpoint that receives signed events of one workflow's runs, or of every run of a workspace."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="webhooks")
    # Null: every run of the workspace (workspace admins manage those).
    workflow = models.ForeignKey(
        "workflows.Workflow", on_delete=models.CASCADE, null=True, blank=True, related_name="webhooks"
    )
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True, default="")
    events = models.JSONField(default=list, help_text="Event types sent to this endpoint.")
    # "whsec_<base64>": needed in clear to sign every attempt; shown to the API once, when created or rotated.
    secret = models.CharField(max_length=100)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created = models.DateTimeField(default=now)

    # Not a column: set by the loaders of backend/accounts/access.py.
    role: Role | None

    class Meta:
        ordering = ["created", "id"]

    def __str__(self) -> str:
        return self.url

    def wants(self, event: str) -> bool:
        """True when this endpoint is active and subscribed to ``event``."""
        return self.active and event in (self.events or ())


class WebhookDelivery(models.Model):
    """One event for one endpoint: sent until it is acknowledged with a 2xx, or for ``retry window`` hours.

    Its id is the ``webhook-id`` header of every attempt (retries and redeliveries included), so a receiver that
    sees an id twice knows it is the same event.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Pending"  # an attempt is due at next_attempt_at (or one is in progress)
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"  # every attempt of the retry window failed

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40)
    # What the event is about: "run:<run id>" or "approval:<approval id>". One delivery per endpoint and key, so a
    # run's end recorded twice (its signal, then the sweep) is sent once.
    event_key = models.CharField(max_length=100)
    run_id = models.UUIDField(null=True, blank=True, db_index=True)
    payload = models.JSONField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    created = models.DateTimeField(default=now)
    # Retries stop this long after it (reset by a redelivery).
    window_started = models.DateTimeField(default=now)
    next_attempt_at = models.DateTimeField(null=True, blank=True, default=now)
    # An attempt holds the delivery until then: another message for it meanwhile does nothing.
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    delivered = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["webhook", "event_key"], name="automation_delivery_once_per_event"
            )
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.event} to {self.webhook_id} ({self.state})"

    @property
    def message_id(self) -> str:
        """The ``webhook-id`` header: the same for every attempt of this delivery."""
        return f"msg_{self.id.hex}"

    def is_due(self, at: datetime | None = None) -> bool:
        """True when an attempt may start now (pending, due, not held by another attempt)."""
        at = at or now()
        return (
            self.state == self.State.PENDING
            and self.next_attempt_at is not None
            and self.next_attempt_at <= at
            and (self.claimed_until is None or self.claimed_until < at)
        )


class DeliveryAttempt(models.Model):
    """One HTTP request of a delivery: what came back, or why none did."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    started = models.DateTimeField(default=now)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True, default="")
    duration_ms = models.FloatField(default=0)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["number", "id"]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"

    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Trigger(models.Model):
    """A URL that starts a run of a workflow when called with its secret; runs are its owner's."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workflow = models.ForeignKey("workflows.Workflow", on_delete=models.CASCADE, related_name="triggers")
    # None: the latest version when called.
    version = models.PositiveIntegerField(null=True, blank=True)
    description = models.CharField(max_length=200, blank=True, default="")
    secret = models.CharField(max_length=100)
    # {"body field (dotted path)": "node_id.input"}; empty: the body is the overrides themselves.
    mapping = models.JSONField(default=dict, blank=True)
    active = models.BooleanField(default=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created = models.DateTimeField(default=now)
    last_fired = models.DateTimeField(null=True, blank=True)

    role: Role | None

    class Meta:
        ordering = ["created", "id"]

    def __str__(self) -> str:
        return f"trigger {self.pk} of workflow {self.workflow_id}"


class Schedule(models.Model):
    """A cron expression in a time zone that starts runs of a workflow, as its owner."""

    class CatchUp(models.TextChoices):
        SKIP = "skip", "Skip missed runs"
        RUN_ONCE = "run_once", "Run once for the missed ones"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workflow = models.ForeignKey("workflows.Workflow", on_delete=models.CASCADE, related_name="schedules")
    version = models.PositiveIntegerField(null=True, blank=True)
    description = models.CharField(max_length=200, blank=True, default="")
    cron = models.CharField(max_length=200)
    timezone = models.CharField(max_length=64, default="UTC")
    catch_up = models.CharField(max_length=16, choices=CatchUp.choices, default=CatchUp.SKIP)
    # The same overrides format as a run's ({"node_id": {"input": value}}).
    inputs = models.JSONField(default=dict, blank=True)
    paused = models.BooleanField(default=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created = models.DateTimeField(default=now)
    # The occurrence (UTC) to fire next; the tick fires it once it has passed and moves it on.
    next_fire_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_fired = models.DateTimeField(null=True, blank=True)

    role: Role | None

    class Meta:
        ordering = ["created", "id"]

    def __str__(self) -> str:
        return f"{self.cron} ({self.timezone}) of workflow {self.workflow_id}"


class ScheduleFiring(models.Model):
    """One occurrence of a schedule that was fired (or found unable to start): at most one row per occurrence."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="firings")
    occurrence = models.DateTimeField()
    fired = models.DateTimeField(default=now)
    run_id = models.UUIDField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    missed = models.PositiveIntegerField(
        default=0, help_text="Occurrences before this one that were skipped."
    )

    class Meta:
        ordering = ["-occurrence"]
        constraints = [
            models.UniqueConstraint(
                fields=["schedule", "occurrence"], name="automation_fire_once_per_occurrence"
            )
        ]

    def __str__(self) -> str:
        return f"{self.schedule_id} at {self.occurrence.isoformat()}"
