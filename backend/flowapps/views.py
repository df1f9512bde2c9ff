"""Apps API: publish and manage apps and their keys; run an app and read its runs; its OpenAPI document."""

from __future__ import annotations

from typing import Any, cast

from django.http.response import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import NotFound
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.access import (
    Need,
    Role,
    access_app,
    access_app_run,
    access_workflow,
    access_workflow_version,
    access_workspace,
    role_subquery,
    visible_apps,
)
from backend.accounts.authentication import AuthenticatedRequest, BearerTokenAuthentication
from backend.accounts.exceptions import ApiError
from backend.accounts.models import User
from backend.flowapps import actions
from backend.flowapps.authentication import AppKeyAuthentication
from backend.flowapps.models import App, AppKey, AppRun
from backend.flowapps.openapi import app_openapi
from backend.flowapps.outputs import run_answer, unsign_output
from backend.flowapps.serializers import (
    AppKeyCreatedSerializer,
    AppKeyCreateSerializer,
    AppKeySerializer,
    AppPublishSerializer,
    AppRunSummarySerializer,
    AppSerializer,
    AppUpdateSerializer,
)
from backend.runs.models import Run, RunOutput
from backend.storage.responses import blob_response
from backend.uploads.actions import do_upload
from backend.uploads.handlers import SizeLimitedUploadHandler
from backend.uploads.views import AnyAccept
from backend.workflows.models import WorkflowVersion

RUN_HISTORY_LIMIT = 50
SLUG = OpenApiParameter("slug", OpenApiTypes.STR, OpenApiParameter.PATH)


def _key(request: Request) -> AppKey | None:
    return request.auth if isinstance(request.auth, AppKey) else None


def _app(request: Request, slug: str, need: Need = Need.VIEW) -> App:
    return access_app(request.user, slug, need, key=_key(request))


def _serialize(app: App, request: Request) -> dict[str, Any]:
    return dict(AppSerializer(app, context={"user": request.user}).data)


def _version(user: Any, workflow_id: int, number: int | None) -> WorkflowVersion:
    if number is not None:
        return access_workflow_version(user, workflow_id, number, Need.EDIT)
    workflow = access_workflow(user, workflow_id, Need.EDIT)
    version = workflow.latest_version()
    if version is None:
        raise NotFound(f"Workflow {workflow.pk} has no saved version.")
    version.workflow = workflow
    return version


def _caller(request: Request, app: App) -> actions.Caller:
    key = _key(request)
    if key is not None:
        user = key.created_by or app.created_by
        return actions.Caller(user=user, via=AppRun.Via.KEY, identity=f"key:{key.pk}", key=key)  # type: ignore[arg-type]
    if app.via == "member":
        source = (
            Run.Source.UI
            if isinstance(request.successful_authenticator, SessionAuthentication)
            else Run.Source.API
        )
        member = cast(User, request.user)  # a member is signed in
        return actions.Caller(user=member, via=AppRun.Via.MEMBER, identity=f"user:{member.pk}", source=source)
    # The public: attributed to the signed-in caller, else to the app's publisher (fair use counts them there).
    signed_in = request.user if isinstance(request.user, User) else None
    user = signed_in or app.created_by
    if user is None:
        raise ApiError("This app's publisher no longer exists; it cannot run.", status_code=409)
    address = request.META.get("REMOTE_ADDR", "") or "unknown"
    return actions.Caller(user=user, via=AppRun.Via.PUBLIC, identity=f"ip:{address}")


class AppEndpoint(APIView):
    """Reachable by members (session or personal token), app keys, and the public for public apps."""

    authentication_classes = [AppKeyAuthentication, BearerTokenAuthentication, SessionAuthentication]
    permission_classes = [AllowAny]

    def absolute(self, path: str) -> str:
        return self.request.build_absolute_uri(path)


class AppListView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("workspace", OpenApiTypes.INT, required=False)],
        responses=AppSerializer(many=True),
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        apps = (
            visible_apps(request.user)
            .select_related("workflow", "version", "created_by")
            .annotate(member_role=role_subquery(request.user, "workspace"))
        )
        workspace = request.query_params.get("workspace")
        if workspace:
            apps = apps.filter(workspace=access_workspace(request.user, workspace))
        result = []
        for app in apps:
            app.role, app.via = Role(app.member_role), "member"  # visible_apps lists members' apps only
            result.append(_serialize(app, request))
        return Response(result)

    @extend_schema(request=AppPublishSerializer, responses={201: AppSerializer})
    def post(self, request: AuthenticatedRequest) -> Response:
        serializer = AppPublishSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        version = _version(request.user, data["workflow"], data.get("version"))
        app = actions.do_publish_app(
            request.user,
            version,
            slug=data["slug"],
            title=data["title"],
            description=data["description"],
            visibility=data["visibility"],
            public_rate_limit=data["public_rate_limit"],
        )
        return Response(
            _serialize(access_app(request.user, app.slug), request), status=status.HTTP_201_CREATED
        )


class AppDetailView(AppEndpoint):
    @extend_schema(parameters=[SLUG], responses=AppSerializer)
    def get(self, request: Request, slug: str) -> Response:
        app = _app(request, slug)
        spec = actions.app_spec(app)
        data = _serialize(app, request)
        data["inputs"] = [item.to_json() for item in spec.inputs]
        data["outputs"] = [item.to_json() for item in spec.outputs]
        return Response(data)

    @extend_schema(parameters=[SLUG], request=AppUpdateSerializer, responses=AppSerializer)
    def patch(self, request: Request, slug: str) -> Response:
        app = _app(request, slug, Need.EDIT)
        serializer = AppUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        version = None
        if "version" in fields:
            version = access_workflow_version(request.user, app.workflow_id, fields.pop("version"), Need.EDIT)
        actions.do_update_app(app, version=version, **fields)
        return Response(_serialize(app, request))

    @extend_schema(parameters=[SLUG], responses={204: None})
    def delete(self, request: Request, slug: str) -> Response:
        actions.do_delete_app(_app(request, slug, Need.EDIT))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AppKeyListView(AppEndpoint):
    @extend_schema(parameters=[SLUG], responses=AppKeySerializer(many=True))
    def get(self, request: Request, slug: str) -> Response:
        app = _app(request, slug, Need.EDIT)
        return Response(AppKeySerializer(app.keys.select_related("created_by"), many=True).data)

    @extend_schema(
        parameters=[SLUG], request=AppKeyCreateSerializer, responses={201: AppKeyCreatedSerializer}
    )
    def post(self, request: Request, slug: str) -> Response:
        app = _app(request, slug, Need.EDIT)
        serializer = AppKeyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key = actions.do_create_app_key(app, request.user, serializer.validated_data["name"])  # type: ignore[arg-type]
        return Response(AppKeyCreatedSerializer(key).data, status=status.HTTP_201_CREATED)


class AppKeyDetailView(AppEndpoint):
    @extend_schema(parameters=[SLUG], responses={204: None})
    def delete(self, request: Request, slug: str, key_id: int) -> Response:
        app = _app(request, slug, Need.EDIT)
        key = app.keys.filter(pk=key_id).first()
        if key is None:
            raise NotFound("This app has no such key.")
        actions.do_revoke_app_key(key)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AppRunListView(AppEndpoint):
    @extend_schema(parameters=[SLUG], responses=AppRunSummarySerializer(many=True))
    def get(self, request: Request, slug: str) -> Response:
        app = _app(request, slug)
        runs = AppRun.objects.select_related("run").filter(app=app, run__isnull=False)
        if app.via == "key":
            runs = runs.filter(key=_key(request))
        elif app.via == "public":
            runs = runs.filter(caller=_caller(request, app).identity, via=AppRun.Via.PUBLIC)
        page = runs.order_by("-created", "-id")[:RUN_HISTORY_LIMIT]
        return Response(AppRunSummarySerializer(page, many=True).data)

    @extend_schema(
        parameters=[
            SLUG,
            OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False),
        ],
        request=OpenApiTypes.OBJECT,
        responses={
            201: OpenApiResponse(OpenApiTypes.OBJECT, description="The run (see the app's openapi.json)"),
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="A retry: the first request's run"),
            400: OpenApiResponse(description="An input is invalid; errors[].field names it"),
            409: OpenApiResponse(
                description="The first request with this Idempotency-Key is still in progress"
            ),
            422: OpenApiResponse(description="The Idempotency-Key was used with a different body"),
            429: OpenApiResponse(description="Public app: too many runs from this address (Retry-After)"),
        },
    )
    def post(self, request: Request, slug: str) -> Response:
        app = _app(request, slug, Need.RUN)
        idempotency_key = request.headers.get("Idempotency-Key", "").strip()
        if len(idempotency_key) > 255:
            raise ApiError(
                "The Idempotency-Key is longer than 255 characters.",
                [{"field": "Idempotency-Key", "message": "at most 255 characters"}],
            )
        try:
            record, created = actions.do_run_app(app, _caller(request, app), request.data, idempotency_key)
        except actions.RateLimited as exc:
            return Response(exc.payload, status=429, headers={"Retry-After": str(exc.retry_after)})
        answer = run_answer(app, record, actions.app_spec(app), self.absolute)
        return Response(answer, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class AppRunDetailView(AppEndpoint):
    @extend_schema(parameters=[SLUG], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, slug: str, run_id: str) -> Response:
        app = _app(request, slug)
        record = access_app_run(request.user, app, run_id, key=_key(request))
        return Response(run_answer(app, record, actions.app_spec(app), self.absolute))


class AppUploadView(AppEndpoint):
    parser_classes = [MultiPartParser]

    def initialize_request(self, request: Any, *args: Any, **kwargs: Any) -> Request:
        if request.method == "POST":
            request.upload_handlers = [SizeLimitedUploadHandler(request), *request.upload_handlers]
        return super().initialize_request(request, *args, **kwargs)

    @extend_schema(
        parameters=[SLUG],
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
            }
        },
        responses={201: OpenApiResponse(OpenApiTypes.OBJECT, description="{id, name, kind}")},
    )
    def post(self, request: Request, slug: str) -> Response:
        app = _app(request, slug, Need.RUN)
        file = request.FILES.get("file")
        if file is None:
            raise ApiError(
                "Send the file as multipart field 'file'.", [{"field": "file", "message": "required"}]
            )
        caller = _caller(request, app)
        upload, _ = do_upload(
            caller.user,
            app.workspace,
            file,
            file.name or "upload",
            client_content_type=file.content_type or "",
        )
        body = {
            "id": upload.pk,
            "name": upload.name,
            "kind": upload.kind,
            "width": upload.width,
            "height": upload.height,
        }
        return Response(body, status=status.HTTP_201_CREATED)


class AppOpenApiView(AppEndpoint):
    @extend_schema(parameters=[SLUG], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, slug: str) -> Response:
        app = _app(request, slug)
        return Response(app_openapi(app, actions.app_spec(app), self.absolute("/")[:-1]))


class AppOutputView(APIView):
    """A run output by signed token: no credentials (the token is the permission), until it expires."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    content_negotiation_class = AnyAccept

    @extend_schema(parameters=[SLUG], responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request: Request, slug: str, token: str) -> HttpResponseBase:
        output_id = unsign_output(token)
        output = (
            RunOutput.objects.filter(
                pk=output_id, blob_sha__isnull=False, run__app_run__app__slug=slug
            ).first()
            if output_id is not None
            else None
        )
        if output is None or output.blob_sha is None:
            raise NotFound("This download link is invalid or has expired.")
        return blob_response(output.blob_sha, output.filename, output.content_type, request)
