"""Workflows API: workflows, versions, diff, restore, fork, sharing, public links and templates."""

from __future__ import annotations

from django.db.models import Max, Q, QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.access import (
    Need,
    access_workflow,
    access_workflow_version,
    access_workspace,
    visible_workflows,
)
from backend.accounts.authentication import AuthenticatedRequest
from backend.workflows import actions
from backend.workflows.documents import diff_graphs
from backend.workflows.models import Workflow
from backend.workflows.serializers import (
    DiffQuerySerializer,
    DiffSerializer,
    DocumentInputSerializer,
    ForkSerializer,
    PublicWorkflowSerializer,
    ShareResultSerializer,
    ShareSerializer,
    TemplateQuerySerializer,
    VersionDocumentSerializer,
    VersionSerializer,
    WorkflowCreateSerializer,
    WorkflowDetailSerializer,
    WorkflowListQuerySerializer,
    WorkflowSerializer,
    WorkflowUpdateSerializer,
    public_url,
)


def _with_list_fields(queryset: QuerySet[Workflow]) -> QuerySet[Workflow]:
    return queryset.select_related("created_by", "forked_from").annotate(
        latest_number=Max("versions__number")
    )


def _detail(request: Request, workflow: Workflow, status_code: int = status.HTTP_200_OK) -> Response:
    return Response(WorkflowDetailSerializer(workflow, context={"request": request}).data, status=status_code)


class WorkflowListView(APIView):
    @extend_schema(parameters=[WorkflowListQuerySerializer], responses=WorkflowSerializer(many=True))
    def get(self, request: AuthenticatedRequest) -> Response:
        query = WorkflowListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        workflows = visible_workflows(request.user)
        if "workspace" in params:
            workspace = access_workspace(request.user, params["workspace"])
            workflows = workflows.filter(workspace=workspace)
        if params["template"]:
            workflows = workflows.filter(is_template=True)
        if params.get("q"):
            workflows = workflows.filter(
                Q(name__icontains=params["q"]) | Q(description__icontains=params["q"])
            )
        return Response(WorkflowSerializer(_with_list_fields(workflows), many=True).data)

    @extend_schema(request=WorkflowCreateSerializer, responses={201: WorkflowDetailSerializer})
    def post(self, request: AuthenticatedRequest) -> Response:
        serializer = WorkflowCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        workspace = access_workspace(request.user, data["workspace"], Need.EDIT)
        workflow = actions.do_create_workflow(
            request.user,
            workspace,
            data["name"],
            data["document"],
            description=data["description"],
            message=data["message"],
            visibility=data["visibility"],
        )
        return _detail(request, access_workflow(request.user, workflow.pk), status.HTTP_201_CREATED)


class WorkflowDetailView(APIView):
    @extend_schema(responses=WorkflowDetailSerializer)
    def get(self, request: AuthenticatedRequest, workflow_id: int) -> Response:
        return _detail(request, access_workflow(request.user, workflow_id))

    @extend_schema(request=WorkflowUpdateSerializer, responses=WorkflowDetailSerializer)
    def patch(self, request: AuthenticatedRequest, workflow_id: int) -> Response:
        workflow = access_workflow(request.user, workflow_id, Need.EDIT)
        serializer = WorkflowUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        workflow = actions.do_update_workflow(workflow, request.user, **serializer.validated_data)
        return _detail(request, workflow)

    @extend_schema(responses={204: None})
    def delete(self, request: AuthenticatedRequest, workflow_id: int) -> Response:
        actions.do_delete_workflow(access_workflow(request.user, workflow_id, Need.EDIT))
        return Response(status=status.HTTP_204_NO_CONTENT)


class VersionListView(APIView):
    @extend_schema(responses=VersionSerializer(many=True))
    def get(self, request: AuthenticatedRequest, workflow_id: int) -> Response:
        workflow = access_workflow(request.user, workflow_id)
        versions = workflow.versions.select_related("author").order_by("-number")
        return Response(VersionSerializer(versions, many=True).data)

    @extend_schema(
        request=DocumentInputSerializer,
        responses={
            201: VersionDocumentSerializer,
            200: OpenApiResponse(VersionDocumentSerializer, description="Unchanged: the latest version"),
        },
    )
    def post(self, request: AuthenticatedRequest, workflow_id: int) -> Response:
        workflow = access_workflow(request.user, workflow_id, Need.EDIT)
        serializer = DocumentInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        version, created = actions.do_save_version(workflow, request.user, data["document"], data["message"])
        return Response(
            VersionDocumentSerializer(version).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class VersionDetailView(APIView):
    @extend_schema(responses=VersionDocumentSerializer)
    def get(self, request: AuthenticatedRequest, workflow_id: int, number: int) -> Response:
        return Response(
            VersionDocumentSerializer(access_workflow_version(request.user, workflow_id, number)).data
        )


class RestoreView(APIView):
    @extend_schema(
        request=None,
        responses={
            201: VersionDocumentSerializer,
            200: OpenApiResponse(VersionDocumentSerializer, description="Already the latest content"),
        },
    )
    def post(self, request: AuthenticatedRequest, workflow_id: int, number: int) -> Response:
        old = access_workflow_version(request.user, workflow_id, number, Need.EDIT)
        version, created = actions.do_restore_version(old.workflow, request.user, old)
        return Response(
            VersionDocumentSerializer(version).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class DiffView(APIView):
    @extend_schema(parameters=[DiffQuerySerializer], responses=DiffSerializer)
    def get(self, request: AuthenticatedRequest, workflow_id: int) -> Response:
        query = DiffQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        workflow = access_workflow(request.user, workflow_id)
        numbers = {query.validated_data["from"], query.validated_data["to"]}
        versions = {v.number: v for v in workflow.versions.filter(number__in=numbers)}
        missing = sorted(numbers - set(versions))
        if missing:
            raise NotFound(f"Workflow {workflow.pk} has no version {missing[0]}.")
        old, new = versions[query.validated_data["from"]], versions[query.validated_data["to"]]
        return Response(DiffSerializer(diff_graphs(old.graph, new.graph)).data)


class ForkView(APIView):
    @extend_schema(request=ForkSerializer, responses={201: WorkflowDetailSerializer})
    def post(self, request: AuthenticatedRequest, workflow_id: int) -> Response:
        source = access_workflow(request.user, workflow_id)
        serializer = ForkSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        workspace = access_workspace(request.user, data["workspace"], Need.EDIT)
        latest = source.latest_version()
        if latest is None:
            raise NotFound(f"Workflow {source.pk} has no version to fork.")
        latest.workflow = source
        fork = actions.do_fork_workflow(request.user, latest, workspace, data.get("name") or source.name)
        return _detail(request, access_workflow(request.user, fork.pk), status.HTTP_201_CREATED)


class ShareView(APIView):
    @extend_schema(request=ShareSerializer, responses=ShareResultSerializer)
    def post(self, request: AuthenticatedRequest, workflow_id: int) -> Response:
        workflow = access_workflow(request.user, workflow_id, Need.EDIT)
        serializer = ShareSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if "visibility" in data:
            workflow = actions.do_set_visibility(workflow, data["visibility"])
        if "public" in data:
            workflow = actions.do_set_public(workflow, data["public"])
        body = {"visibility": workflow.visibility, "public_url": public_url(request, workflow)}
        return Response(ShareResultSerializer(body).data)


class PublicWorkflowView(APIView):
    authentication_classes: list = []  # anonymous by design; a stale cookie or token must not get in the way
    permission_classes = [AllowAny]

    @extend_schema(responses=PublicWorkflowSerializer, auth=[])
    def get(self, request: Request, token: str) -> Response:
        workflow = Workflow.objects.filter(public_token=token).first()
        if workflow is None:
            raise NotFound("This link is unknown or was revoked.")
        return Response(PublicWorkflowSerializer(workflow).data)


class TemplateListView(APIView):
    @extend_schema(parameters=[TemplateQuerySerializer], responses=WorkflowSerializer(many=True))
    def get(self, request: AuthenticatedRequest) -> Response:
        query = TemplateQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        team = visible_workflows(request.user).filter(is_template=True)
        if "workspace" in query.validated_data:
            team = team.filter(workspace=access_workspace(request.user, query.validated_data["workspace"]))
        templates = Workflow.objects.filter(Q(pk__in=team.values("pk")) | Q(is_site_template=True))
        templates = _with_list_fields(templates).order_by("-is_site_template", "name", "id")
        return Response(WorkflowSerializer(templates, many=True).data)
