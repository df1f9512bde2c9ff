"""Automation API: a workflow's webhooks (with their deliveries), trigger URLs and schedules; workspace-wide
webhooks; the trigger URL itself. Loading through backend/accounts/access.py is the permission check."""

from __future__ import annotations

import hmac
import json
from typing import Any
from uuid import UUID

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.access import (
    Need,
    access_schedule,
    access_trigger,
    access_webhook,
    access_workflow,
    access_workspace,
)
from backend.accounts.authentication import AuthenticatedRequest
from backend.accounts.exceptions import ApiError
from backend.automation import actions
from backend.automation.models import Trigger, Webhook, WebhookDelivery
from backend.automation.serializers import (
    DeliverySerializer,
    PreviewAnswerSerializer,
    SchedulePreviewSerializer,
    ScheduleSerializer,
    ScheduleWriteSerializer,
    TriggerFiredSerializer,
    TriggerSerializer,
    TriggerWithSecretSerializer,
    TriggerWriteSerializer,
    WebhookSerializer,
    WebhookWithSecretSerializer,
    WebhookWriteSerializer,
)
from backend.automation.signing import SignatureError, verify

TRIGGER_SECRET_HEADER = "X-Trigger-Secret"


def _valid(serializer_class: type, data: Any, partial: bool = False) -> dict[str, Any]:
    serializer = serializer_class(data=data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# Webhooks.


class WorkflowWebhookListView(APIView):
    @extend_schema(responses=WebhookSerializer(many=True))
    def get(self, request: AuthenticatedRequest, workflow_id: int) -> Response:
        workflow = access_workflow(request.user, workflow_id, Need.EDIT)
        return Response(WebhookSerializer(workflow.webhooks.select_related("created_by"), many=True).data)

    @extend_schema(request=WebhookWriteSerializer, responses={201: WebhookWithSecretSerializer})
    def post(self, request: AuthenticatedRequest, workflow_id: int) -> Response:
        workflow = access_workflow(request.user, workflow_id, Need.EDIT)
        data = _valid(WebhookWriteSerializer, request.data)
        data.pop("active", None)
        webhook = actions.do_create_webhook(
            request.user, workspace=workflow.workspace, workflow=workflow, **data
        )
        return Response(WebhookWithSecretSerializer(webhook).data, status=status.HTTP_201_CREATED)


class WorkspaceWebhookListView(APIView):
    @extend_schema(responses=WebhookSerializer(many=True))
    def get(self, request: AuthenticatedRequest, workspace_id: int) -> Response:
        workspace = access_workspace(request.user, workspace_id, Need.ADMIN)
        hooks = Webhook.objects.filter(workspace=workspace, workflow__isnull=True).select_related(
            "created_by"
        )
        return Response(WebhookSerializer(hooks, many=True).data)

    @extend_schema(request=WebhookWriteSerializer, responses={201: WebhookWithSecretSerializer})
    def post(self, request: AuthenticatedRequest, workspace_id: int) -> Response:
        workspace = access_workspace(request.user, workspace_id, Need.ADMIN)
        data = _valid(WebhookWriteSerializer, request.data)
        data.pop("active", None)
        webhook = actions.do_create_webhook(request.user, workspace=workspace, workflow=None, **data)
        return Response(WebhookWithSecretSerializer(webhook).data, status=status.HTTP_201_CREATED)


class WebhookDetailView(APIView):
    @extend_schema(responses=WebhookSerializer)
    def get(self, request: AuthenticatedRequest, webhook_id: UUID) -> Response:
        return Response(WebhookSerializer(access_webhook(request.user, webhook_id)).data)

    @extend_schema(request=WebhookWriteSerializer, responses=WebhookSerializer)
    def patch(self, request: AuthenticatedRequest, webhook_id: UUID) -> Response:
        webhook = access_webhook(request.user, webhook_id)
        webhook = actions.do_update_webhook(
            webhook, **_valid(WebhookWriteSerializer, request.data, partial=True)
        )
        return Response(WebhookSerializer(webhook).data)

    @extend_schema(responses={204: None})
    def delete(self, request: AuthenticatedRequest, webhook_id: UUID) -> Response:
        actions.do_delete_webhook(access_webhook(request.user, webhook_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookRotateSecretView(APIView):
    @extend_schema(request=None, responses=WebhookWithSecretSerializer)
    def post(self, request: AuthenticatedRequest, webhook_id: UUID) -> Response:
        webhook = actions.do_rotate_webhook_secret(access_webhook(request.user, webhook_id))
        return Response(WebhookWithSecretSerializer(webhook).data)


class DeliveryPagination(LimitOffsetPagination):
    default_limit = 20
    max_limit = 100


class WebhookDeliveryListView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("state", str, enum=WebhookDelivery.State.values)],
        responses=DeliverySerializer(many=True),
    )
    def get(self, request: AuthenticatedRequest, webhook_id: UUID) -> Response:
        webhook = access_webhook(request.user, webhook_id)
        deliveries = webhook.deliveries.prefetch_related("attempt_log").order_by("-created", "-id")
        state = request.query_params.get("state")
        if state:
            if state not in WebhookDelivery.State.values:
                raise ApiError(
                    "Unknown state.", [{"field": "state", "message": f"{state!r} is not a state."}]
                )
            deliveries = deliveries.filter(state=state)
        paginator = DeliveryPagination()
        page = paginator.paginate_queryset(deliveries, request, view=self)
        return paginator.get_paginated_response(DeliverySerializer(page, many=True).data)


class RedeliverView(APIView):
    @extend_schema(request=None, responses={202: DeliverySerializer})
    def post(self, request: AuthenticatedRequest, webhook_id: UUID, delivery_id: UUID) -> Response:
        webhook = access_webhook(request.user, webhook_id)
        delivery = WebhookDelivery.objects.filter(webhook=webhook, pk=delivery_id).first()
        if delivery is None:
            raise NotFound("This webhook has no such delivery.")
        delivery = actions.do_redeliver(delivery)
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


# Triggers.


class WorkflowTriggerListView(APIView):
    @extend_schema(responses=TriggerSerializer(many=True))
    def get(self, request: AuthenticatedRequest, workflow_id: int) -> Response:
        workflow = access_workflow(request.user, workflow_id, Need.EDIT)
        triggers = workflow.triggers.select_related("owner")
        return Response(TriggerSerializer(triggers, many=True, context={"request": request}).data)

    @extend_schema(request=TriggerWriteSerializer, responses={201: TriggerWithSecretSerializer})
    def post(self, request: AuthenticatedRequest, workflow_id: int) -> Response:
        workflow = access_workflow(request.user, workflow_id, Need.EDIT)
        data = _valid(TriggerWriteSerializer, request.data)
        data.pop("active", None)
        trigger = actions.do_create_trigger(request.user, workflow, **data)
        body = TriggerWithSecretSerializer(trigger, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)


class TriggerView(APIView):
    """``POST``: the trigger URL (no session or token: the trigger's secret, or a signature made with it);
    ``GET``/``PATCH``/``DELETE``: managing the trigger, for those who may edit its workflow."""

    def get_authenticators(self) -> list[Any]:
        if self.request is not None and self.request.method == "POST":
            return []
        return super().get_authenticators()

    def get_permissions(self) -> list[Any]:
        if self.request is not None and self.request.method == "POST":
            return [AllowAny()]
        return [IsAuthenticated()]

    @extend_schema(
        auth=[],
        request=OpenApiTypes.OBJECT,
        parameters=[
            OpenApiParameter(TRIGGER_SECRET_HEADER, str, OpenApiParameter.HEADER, description="The secret"),
            OpenApiParameter("webhook-signature", str, OpenApiParameter.HEADER, description="Or a signature"),
        ],
        responses={
            201: TriggerFiredSerializer,
            401: OpenApiResponse(description="No valid secret or signature"),
            403: OpenApiResponse(description="The trigger's owner may no longer run the workflow"),
        },
    )
    def post(self, request: Request, trigger_id: UUID) -> Response:
        raw = request.body  # before anything parses it: the signature covers these bytes
        trigger = (
            Trigger.objects.select_related("owner", "workflow").filter(pk=trigger_id, active=True).first()
        )
        if trigger is None:
            raise NotFound("No such trigger.")
        _authenticate_trigger(trigger, request.headers, raw)
        try:
            body = json.loads(raw or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise ApiError("The body is not JSON.", [{"field": "body", "message": "Invalid JSON."}]) from None
        run = actions.do_fire_trigger(trigger, body)
        answer = {"run": run.pk, "status": run.status, "url": f"/api/runs/{run.pk}"}
        return Response(TriggerFiredSerializer(answer).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=TriggerSerializer)
    def get(self, request: AuthenticatedRequest, trigger_id: UUID) -> Response:
        trigger = access_trigger(request.user, trigger_id)
        return Response(TriggerSerializer(trigger, context={"request": request}).data)

    @extend_schema(request=TriggerWriteSerializer, responses=TriggerSerializer)
    def patch(self, request: AuthenticatedRequest, trigger_id: UUID) -> Response:
        trigger = access_trigger(request.user, trigger_id)
        trigger = actions.do_update_trigger(
            trigger, **_valid(TriggerWriteSerializer, request.data, partial=True)
        )
        return Response(TriggerSerializer(trigger, context={"request": request}).data)

    @extend_schema(responses={204: None})
    def delete(self, request: AuthenticatedRequest, trigger_id: UUID) -> Response:
        actions.do_delete_trigger(access_trigger(request.user, trigger_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _authenticate_trigger(trigger: Trigger, headers: Any, raw: bytes) -> None:
    given = headers.get(TRIGGER_SECRET_HEADER)
    if given is not None:
        if hmac.compare_digest(given.encode(), trigger.secret.encode()):
            return
        raise ApiError(
            "The trigger secret does not match.",
            [{"field": TRIGGER_SECRET_HEADER, "message": "Wrong secret."}],
            status_code=401,
        )
    if headers.get("webhook-signature") is None:
        raise ApiError(
            f"Send the trigger's secret in {TRIGGER_SECRET_HEADER}, or sign the body (webhook-signature).",
            [{"field": TRIGGER_SECRET_HEADER, "message": "Missing."}],
            status_code=401,
        )
    try:
        verify(trigger.secret, dict(headers), raw)
    except SignatureError as exc:
        raise ApiError(
            str(exc), [{"field": "webhook-signature", "message": str(exc)}], status_code=401
        ) from None


class TriggerRotateSecretView(APIView):
    @extend_schema(request=None, responses=TriggerWithSecretSerializer)
    def post(self, request: AuthenticatedRequest, trigger_id: UUID) -> Response:
        trigger = actions.do_rotate_trigger_secret(access_trigger(request.user, trigger_id))
        return Response(TriggerWithSecretSerializer(trigger, context={"request": request}).data)


# Schedules.


class WorkflowScheduleListView(APIView):
    @extend_schema(responses=ScheduleSerializer(many=True))
    def get(self, request: AuthenticatedRequest, workflow_id: int) -> Response:
        workflow = access_workflow(request.user, workflow_id, Need.EDIT)
        schedules = workflow.schedules.select_related("owner").prefetch_related("firings")
        return Response(ScheduleSerializer(schedules, many=True).data)

    @extend_schema(request=ScheduleWriteSerializer, responses={201: ScheduleSerializer})
    def post(self, request: AuthenticatedRequest, workflow_id: int) -> Response:
        workflow = access_workflow(request.user, workflow_id, Need.EDIT)
        data = _valid(ScheduleWriteSerializer, request.data)
        data["timezone_name"] = data.pop("timezone", "UTC")
        schedule = actions.do_create_schedule(request.user, workflow, **data)
        return Response(ScheduleSerializer(schedule).data, status=status.HTTP_201_CREATED)


class ScheduleDetailView(APIView):
    @extend_schema(responses=ScheduleSerializer)
    def get(self, request: AuthenticatedRequest, schedule_id: UUID) -> Response:
        return Response(ScheduleSerializer(access_schedule(request.user, schedule_id)).data)

    @extend_schema(request=ScheduleWriteSerializer, responses=ScheduleSerializer)
    def patch(self, request: AuthenticatedRequest, schedule_id: UUID) -> Response:
        schedule = access_schedule(request.user, schedule_id)
        schedule = actions.do_update_schedule(
            schedule, **_valid(ScheduleWriteSerializer, request.data, partial=True)
        )
        return Response(ScheduleSerializer(schedule).data)

    @extend_schema(responses={204: None})
    def delete(self, request: AuthenticatedRequest, schedule_id: UUID) -> Response:
        actions.do_delete_schedule(access_schedule(request.user, schedule_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SchedulePreviewView(APIView):
    @extend_schema(parameters=[SchedulePreviewSerializer], responses=PreviewAnswerSerializer)
    def get(self, request: AuthenticatedRequest) -> Response:
        query = SchedulePreviewSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response({"next_runs": query.preview()})
