"""Built-in templates, opening a graph file, and a version as code or a picture.

- ``GET /api/templates/builtin[?workspace=<id>]``: the shipped templates, each with what this server lacks to
  run it (``needs``) and a preview picture.
- ``GET /api/templates/builtin/<id>/preview.svg``: the template drawn as SVG.
- ``POST /api/templates/builtin/<id>/use`` ``{workspace, name?}``: a new workflow from it (editor role).
- ``POST /api/workflows/open`` ``{graph, layout?}``: a Flowyard graph or document, checked and laid out (nodes
  without a position get one; a shipped sample file it names is uploaded into the caller's personal workspace),
  answered as ``{document, warnings, missing}`` like the ComfyUI import.
- ``GET /api/workflows/<id>/versions/<n>/export?format=python|svg``: the version as a runnable Python script
  or an SVG picture (a download).
"""

from __future__ import annotations

import re
from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.access import Need, access_workflow, access_workflow_version, access_workspace
from backend.accounts.authentication import AuthenticatedRequest
from backend.accounts.models import Workspace
from backend.runs.nodes import model_file_options, registry_for_workspace
from backend.workflows.builtin_templates import (
    BuiltinTemplate,
    builtin_templates,
    do_create_from_builtin,
    upload_shipped_files,
)
from backend.workflows.documents import parse_document
from backend.workflows.serializers import DocumentInputSerializer, WorkflowDetailSerializer
from workers.engine.registry import NodeRegistry
from workers.export import graph_to_script, graph_to_svg, layered_layout


def _registry(workspace: Workspace) -> NodeRegistry:
    return registry_for_workspace(workspace)


def _model_files(kinds: set[str]) -> dict[str, list[str]]:
    return {kind: model_file_options(kind) or [] for kind in kinds}


def _template(template_id: str) -> BuiltinTemplate:
    template = builtin_templates().get(template_id)
    if template is None:
        raise NotFound(f"No built-in template {template_id!r}.")
    return template


class BuiltinTemplateSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    category = serializers.CharField()
    node_count = serializers.IntegerField()
    needs = serializers.ListField(
        child=serializers.CharField(), help_text="What this server lacks; empty: ready"
    )
    preview_url = serializers.CharField()


class BuiltinQuerySerializer(serializers.Serializer):
    workspace = serializers.IntegerField(
        required=False, help_text="Whose installed packs count (default: yours)"
    )


class UseTemplateSerializer(serializers.Serializer):
    workspace = serializers.IntegerField()
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)


class ExportQuerySerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=["python", "svg"])


class BuiltinTemplateListView(APIView):
    @extend_schema(parameters=[BuiltinQuerySerializer], responses=BuiltinTemplateSerializer(many=True))
    def get(self, request: AuthenticatedRequest) -> Response:
        query = BuiltinQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        if "workspace" in query.validated_data:
            workspace = access_workspace(request.user, query.validated_data["workspace"])
        else:
            workspace = request.user.personal_workspace
        templates = list(builtin_templates().values())
        registry = _registry(workspace)
        files = _model_files({kind for t in templates for kind in t.models.values()})
        body = [
            {
                "id": t.id,
                "name": t.name,
                "description": t.description,
                "category": t.category,
                "node_count": len(t.graph["nodes"]),
                "needs": t.needs(registry, files),
                "preview_url": f"/api/templates/builtin/{t.id}/preview.svg",
            }
            for t in templates
        ]
        return Response(BuiltinTemplateSerializer(body, many=True).data)


class BuiltinTemplatePreviewView(APIView):
    @extend_schema(responses={(200, "image/svg+xml"): OpenApiTypes.STR})
    def get(self, request: AuthenticatedRequest, template_id: str) -> HttpResponse:
        template = _template(template_id)
        svg = graph_to_svg(template.graph, template.layout, _registry(request.user.personal_workspace))
        response = HttpResponse(svg, content_type="image/svg+xml; charset=utf-8")
        response["Cache-Control"] = "private, max-age=3600"
        return response


class UseBuiltinTemplateView(APIView):
    @extend_schema(request=UseTemplateSerializer, responses={201: WorkflowDetailSerializer})
    def post(self, request: AuthenticatedRequest, template_id: str) -> Response:
        template = _template(template_id)
        serializer = UseTemplateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        workspace = access_workspace(request.user, data["workspace"], Need.EDIT)
        workflow = do_create_from_builtin(
            request.user,
            workspace,
            template,
            data.get("name") or None,
            _model_files(set(template.models.values())),
        )
        detail = WorkflowDetailSerializer(
            access_workflow(request.user, workflow.pk), context={"request": request}
        )
        return Response(detail.data, status=status.HTTP_201_CREATED)


class OpenFileView(APIView):
    @extend_schema(
        request=DocumentInputSerializer,
        responses=OpenApiResponse(OpenApiTypes.OBJECT, description="{document, warnings, missing}"),
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        serializer = DocumentInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        document = serializer.validated_data["document"]
        # An example file from examples/ reads its sample photo by path: uploaded into the caller's workspace
        # (once), so the opened graph runs as shipped.
        graph = upload_shipped_files(request.user, request.user.personal_workspace, document.graph)
        if graph != document.graph:
            document = parse_document(graph, document.layout)
        layout = dict(document.layout)
        places = dict(layout.get("nodes") or {})
        unplaced = [node_id for node_id in document.graph["nodes"] if node_id not in places]
        if unplaced:
            # Nodes without a place are laid out beside (right of) the ones that have one.
            right = max((p["x"] + (p.get("width") or 240) for p in places.values()), default=-340) + 100
            for node_id, place in layered_layout(document.graph).items():
                if node_id in unplaced:
                    places[node_id] = {"x": place["x"] + (right if places else 0), "y": place["y"]}
            layout["nodes"] = places
            document = parse_document(document.graph, layout)
        registry = _registry(request.user.personal_workspace)
        missing = {
            node_id: node for node_id, node in document.graph["nodes"].items() if node["type"] not in registry
        }
        warnings = [
            {"node": node_id, "message": f"Unknown node type {node['type']!r}: kept as a missing node."}
            for node_id, node in missing.items()
        ]
        if unplaced and len(unplaced) < len(document.graph["nodes"]):
            warnings.append(
                {"node": None, "message": f"{len(unplaced)} node(s) had no position and were laid out."}
            )
        body = {"document": {"graph": document.graph, "layout": document.layout}, "warnings": warnings}
        return Response({**body, "missing": missing})


def _file_stem(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").lower()[:80] or "workflow"


class VersionExportView(APIView):
    def perform_content_negotiation(self, request: Request, force: bool = False) -> tuple[Any, str]:
        # ``?format=`` names the export here, not one of DRF's renderers (whose lookup would answer 404).
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        parameters=[ExportQuerySerializer],
        responses={(200, "text/x-python"): OpenApiTypes.STR, (200, "image/svg+xml"): OpenApiTypes.STR},
    )
    def get(self, request: AuthenticatedRequest, workflow_id: int, number: int) -> HttpResponse:
        query = ExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        version = access_workflow_version(request.user, workflow_id, number)
        workflow = version.workflow
        stem = f"{_file_stem(workflow.name)}_v{version.number}"
        if query.validated_data["format"] == "python":
            filename = f"{stem}.py"
            body = graph_to_script(
                version.graph,
                version.layout,
                name=workflow.name,
                source=f"workflow {workflow.pk}, version {version.number}",
                filename=filename,
            )
            content_type = "text/x-python; charset=utf-8"
        else:
            filename = f"{stem}.svg"
            registry = _registry(workflow.workspace)
            body = graph_to_svg(
                version.graph, version.layout, registry, title=f"{workflow.name} · v{version.number}"
            )
            content_type = "image/svg+xml; charset=utf-8"
        response = HttpResponse(body, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
