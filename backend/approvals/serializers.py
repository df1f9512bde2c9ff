"""Approval payloads: what approvers see, and the decision they post."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from backend.approvals.models import Approval


class ApprovalSerializer(serializers.ModelSerializer):
    """An approval with its run, who decides, the outputs under review and, once decided, the decision."""

    node = serializers.CharField(source="node_id")
    run_status = serializers.CharField(source="run.status")
    workspace = serializers.IntegerField(source="run.workspace_id")
    workflow = serializers.IntegerField(source="run.workflow_id", allow_null=True)
    workflow_name = serializers.SerializerMethodField()
    approvers = serializers.SerializerMethodField()
    decided_by = serializers.SerializerMethodField()
    pending = serializers.SerializerMethodField()
    can_decide = serializers.SerializerMethodField()
    outputs = serializers.SerializerMethodField()

    class Meta:
        model = Approval
        fields = [
            "id",
            "run",
            "run_status",
            "workspace",
            "workflow",
            "workflow_name",
            "node",
            "message",
            "approvers",
            "requested",
            "deadline",
            "on_timeout",
            "pending",
            "can_decide",
            "decision",
            "decided_by",
            "decided_at",
            "comment",
            "timed_out",
            "outputs",
        ]

    def get_workflow_name(self, approval: Approval) -> str | None:
        workflow = approval.run.workflow
        return workflow.name if workflow is not None else None

    @extend_schema_field(
        {"type": "object", "properties": {"role": {"type": "string"}, "users": {"type": "array"}}}
    )
    def get_approvers(self, approval: Approval) -> dict[str, Any]:
        return {
            "role": approval.approver_role,
            "users": list(approval.approver_users),
            "text": approval.approvers_text(),
        }

    def get_decided_by(self, approval: Approval) -> str | None:
        return approval.decided_by.get_username() if approval.decided_by else None

    def get_pending(self, approval: Approval) -> bool:
        return approval.is_pending()

    def get_can_decide(self, approval: Approval) -> bool:
        """True when the caller may decide it now (set by the view from the caller's role)."""
        return (
            approval.is_pending()
            and approval.run.status == approval.run.Status.AWAITING_APPROVAL
            and bool(getattr(approval, "caller_approves", False))
        )

    @extend_schema_field({"type": "array", "items": {"type": "object"}})
    def get_outputs(self, approval: Approval) -> list[dict[str, Any]]:
        return approval.reviewed_outputs()


class DecisionSerializer(serializers.Serializer):
    """POST body: the decision and an optional comment."""

    decision = serializers.ChoiceField(choices=Approval.Decision.choices)
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class ApprovalListQuerySerializer(serializers.Serializer):
    pending = serializers.BooleanField(required=False, default=False)


class ApprovalPageSerializer(serializers.Serializer):
    """GET /api/approvals: how many, and the approvals (at most 200)."""

    count = serializers.IntegerField()
    results = ApprovalSerializer(many=True)
