"""Approvals API: the caller's approvals (pending ones to decide), a run's approvals, and deciding one."""

from __future__ import annotations

from typing import cast
from uuid import UUID

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.access import access_approval, access_run, approvals_for, visible_approvals
from backend.accounts.models import User
from backend.approvals import actions
from backend.approvals.models import Approval
from backend.approvals.serializers import (
    ApprovalListQuerySerializer,
    ApprovalPageSerializer,
    ApprovalSerializer,
    DecisionSerializer,
)

LIST_LIMIT = 200


class ApprovalListView(APIView):
    @extend_schema(parameters=[ApprovalListQuerySerializer], responses=ApprovalPageSerializer)
    def get(self, request: Request) -> Response:
        """The approvals of runs the caller may see, newest first; ``pending=1``: those the caller may decide now."""
        query = ApprovalListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        approvals = visible_approvals(request.user, pending=query.validated_data["pending"], limit=LIST_LIMIT)
        return Response({"count": len(approvals), "results": ApprovalSerializer(approvals, many=True).data})


class RunApprovalListView(APIView):
    @extend_schema(responses=ApprovalSerializer(many=True))
    def get(self, request: Request, run_id: UUID) -> Response:
        """The approvals of one run (anyone who may see the run), each saying whether the caller may decide it."""
        run = access_run(request.user, run_id, graphs=False)
        return Response(ApprovalSerializer(approvals_for(request.user, run), many=True).data)


class ApprovalDecisionView(APIView):
    @extend_schema(request=DecisionSerializer, responses=ApprovalSerializer)
    def post(self, request: Request, run_id: UUID, approval_id: int) -> Response:
        """Approve or reject: 403 for a member who is not an approver, 404 for who cannot see the run, 409 when
        it was decided already or the run no longer waits."""
        approval = access_approval(request.user, run_id, approval_id, decide=True)
        body = DecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        decided = actions.do_decide(
            cast(User, request.user),
            approval,
            body.validated_data["decision"],
            body.validated_data["comment"],
        )
        decided = Approval.objects.select_related("run", "run__workflow", "decided_by").get(pk=decided.pk)
        decided.caller_approves = True
        return Response(ApprovalSerializer(decided).data)
