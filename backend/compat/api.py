"""Flowyard API endpoints of the compat app: import and export ComfyUI workflows, and a token's ComfyUI workspace.

- ``POST /api/import/comfy`` (a ComfyUI UI-format workflow or API-format prompt) → ``{document, warnings,
  missing}``; the document is ready to save with ``POST /api/workflows``.
- ``GET /api/workflows/<id>/export/comfy?version=<n>`` → the version's graph as an API-format prompt.
- ``GET/PUT /api/comfy/tokens/<token id>`` ``{workspace}`` → which workspace that token's ComfyUI calls use.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.access import Need, access_workflow, access_workflow_version, access_workspace
from backend.accounts.authentication import AuthenticatedRequest
from backend.accounts.exceptions import ApiError, field_error
from backend.accounts.models import ApiToken
from backend.compat.models import ComfyTokenSettings
from backend.compat.workflows import ImportError_, export_comfy, import_comfy
from backend.runs.nodes import registry_for_workspace
from backend.workflows.documents import parse_document


class ImportComfyView(APIView):
    @extend_schema(
        request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT, summary="Import a ComfyUI workflow"
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        try:
            result = import_comfy(request.data, registry_for_workspace(request.user.personal_workspace))
        except ImportError_ as exc:
            raise ApiError(str(exc), [{"field": "workflow", "message": str(exc)}]) from None
        document = parse_document(result["document"]["graph"], result["document"]["layout"])
        result["document"] = {"graph": document.graph, "layout": document.layout}
        return Response(result)


class ExportComfyView(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT, summary="Export a workflow version as a ComfyUI API prompt")
    def get(self, request: AuthenticatedRequest, workflow_id: int) -> Response:
        number = request.query_params.get("version")
        if number:
            version = access_workflow_version(request.user, workflow_id, number)
        else:
            workflow = access_workflow(request.user, workflow_id)
            latest = workflow.latest_version()
            if latest is None:
                raise NotFound(f"Workflow {workflow.pk} has no saved version.")
            version = latest
        return Response(export_comfy(version.graph, version.layout))


class TokenSettingsView(APIView):
    def _token(self, request: AuthenticatedRequest, token_id: int) -> ApiToken:
        token = ApiToken.objects.filter(pk=token_id, user=request.user, revoked_at__isnull=True).first()
        if token is None:
            raise NotFound("No such token.")
        return token

    @extend_schema(responses=OpenApiTypes.OBJECT, summary="The workspace a token's ComfyUI calls use")
    def get(self, request: AuthenticatedRequest, token_id: int) -> Response:
        token = self._token(request, token_id)
        workspace = (
            ComfyTokenSettings.objects.filter(token=token).values_list("workspace_id", flat=True).first()
        )
        return Response({"workspace": workspace})

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def put(self, request: AuthenticatedRequest, token_id: int) -> Response:
        token = self._token(request, token_id)
        value = request.data.get("workspace") if isinstance(request.data, dict) else None
        if value is None:
            ComfyTokenSettings.objects.filter(token=token).delete()
            return Response({"workspace": None})
        try:
            workspace = access_workspace(request.user, value, Need.RUN)
        except NotFound:
            raise field_error("workspace", "No such workspace (or you may not run in it).") from None
        ComfyTokenSettings.objects.update_or_create(token=token, defaults={"workspace": workspace})
        return Response({"workspace": workspace.pk})
