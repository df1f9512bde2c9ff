"""The draft over HTTP: read it as a JSON document, and save it as the workflow's next immutable version."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.access import Need, access_workflow
from backend.accounts.authentication import AuthenticatedRequest
from backend.coedit import store
from backend.coedit.models import DraftSnapshot
from backend.workflows import actions
from backend.workflows.documents import parse_document
from backend.workflows.serializers import VersionDocumentSerializer


class DraftSerializer(serializers.Serializer):
    graph = serializers.JSONField()
    layout = serializers.JSONField()
    base_version = serializers.IntegerField(allow_null=True)


class SaveDraftSerializer(serializers.Serializer):
    message = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class DraftView(APIView):
    @extend_schema(responses=DraftSerializer)
    def get(self, request: AuthenticatedRequest, workflow_id: int) -> Response:
        """The co-edited draft as a JSON document (made from the latest version if nobody co-edited yet)."""
        workflow = access_workflow(request.user, workflow_id)
        graph, layout = store.draft_document(workflow.pk)
        base = DraftSnapshot.objects.values_list("base_version", flat=True).get(workflow_id=workflow.pk)
        return Response({"graph": graph, "layout": layout, "base_version": base})


class SaveDraftView(APIView):
    @extend_schema(
        request=SaveDraftSerializer,
        responses={
            201: VersionDocumentSerializer,
            200: OpenApiResponse(VersionDocumentSerializer, description="Already the latest content"),
        },
    )
    def post(self, request: AuthenticatedRequest, workflow_id: int) -> Response:
        """Save the draft as the next version: validated as any saved document is (400 naming the field)."""
        workflow = access_workflow(request.user, workflow_id, Need.EDIT)
        body = SaveDraftSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        document = parse_document(*store.draft_document(workflow.pk))
        version, created = actions.do_save_version(
            workflow, request.user, document, body.validated_data["message"]
        )
        return Response(
            VersionDocumentSerializer(version).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
