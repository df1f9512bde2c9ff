"""Approvals: a run paused at an Approval node waits here for an approver's decision (docs/approvals.md).

The row is the truth: a paused run holds no worker, so web and worker processes may restart at will while it
waits; approving re-queues the run, and its next attempt finds the decision here (``decisions_for``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from backend.accounts.models import AnyUser
from backend.accounts.roles import Role
from backend.runs.models import Run, RunOutput


class Approval(models.Model):
    """One approval step of one run: who may decide, until when, and what was decided by whom."""

    class Decision(models.TextChoices):
        APPROVE = "approve", "Approve"
        REJECT = "reject", "Reject"

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="approvals")
    node_id = models.CharField(max_length=200, help_text="The Approval node that paused the run.")
    message = models.TextField(blank=True, default="")
    approver_role = models.CharField(
        max_length=16, blank=True, default="", help_text="Members with this role or a higher one decide."
    )
    approver_users = models.JSONField(default=list, blank=True, help_text="Usernames who decide (or none).")
    on_timeout = models.CharField(max_length=16, choices=Decision.choices, default=Decision.REJECT)
    requested = models.DateTimeField(default=timezone.now)
    deadline = models.DateTimeField(null=True, blank=True, help_text="When on_timeout applies; null: never.")
    decision = models.CharField(max_length=16, choices=Decision.choices, blank=True, default="")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True, default="")
    timed_out = models.BooleanField(default=False, help_text="Decided by on_timeout, not by a person.")

    # Set by the access functions (backend/accounts/access.py): the caller is one of the approvers.
    caller_approves: bool

    class Meta:
        ordering = ["requested", "id"]
        constraints = [models.UniqueConstraint(fields=["run", "node_id"], name="approval_unique_node")]
        indexes = [
            models.Index(
                fields=["deadline"], condition=models.Q(decision=""), name="approval_pending_deadline"
            )
        ]

    def __str__(self) -> str:
        return f"approval {self.pk} of run {self.run_id} at {self.node_id} ({self.decision or 'pending'})"

    def is_pending(self) -> bool:
        """True while nobody (and no timeout) has decided."""
        return not self.decision

    def approves(self, user: AnyUser | None, role: Role | None) -> bool:
        """True when ``user``, whose role in the run's workspace is ``role``, is one of the approvers."""
        if user is None or role is None or not user.is_authenticated:
            return False
        if self.approver_users:
            return user.get_username() in self.approver_users
        if not self.approver_role:
            return False
        return Role(role).rank >= Role(self.approver_role).rank

    def approvers_text(self) -> str:
        """Who decides, in words."""
        if self.approver_users:
            return ", ".join(self.approver_users)
        return f"{self.approver_role} or higher" if self.approver_role != Role.OWNER else "owner"

    def reviewed_outputs(self) -> list[dict[str, Any]]:
        """What the approvers are shown: the outputs the Approval node stored when it paused."""
        outputs = RunOutput.objects.filter(run_id=self.run_id, node_id=self.node_id).exclude(
            kind=RunOutput.Kind.PREVIEW
        )
        return [output.to_ref() for output in outputs.order_by("kind", "index", "id")]

    def to_event(self) -> dict[str, Any]:
        """The data of this approval's ``approval_requested`` / ``approval_decided`` events."""
        data: dict[str, Any] = {
            "approval": self.pk,
            "message": self.message,
            "approvers": {"role": self.approver_role, "users": list(self.approver_users)},
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "on_timeout": self.on_timeout,
        }
        if self.decision:
            data.update(
                decision=self.decision,
                decided_by=self.decided_by.get_username() if self.decided_by else None,
                decided_at=self.decided_at.isoformat() if self.decided_at else None,
                comment=self.comment,
                timed_out=self.timed_out,
            )
        return data


def decisions_for(run_id: Any) -> dict[str, str]:
    """{Approval node id: decision} of the run's decided approvals (what its next attempt's nodes see)."""
    return dict(
        Approval.objects.filter(run_id=run_id).exclude(decision="").values_list("node_id", "decision")
    )
