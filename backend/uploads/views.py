"""Uploads API: upload, list, detail, download, thumbnail, delete."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser, MultiPartParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.access import Need, access_upload, access_workspace, check_need, visible_uploads
from backend.accounts.authentication import AuthenticatedRequest
from backend.storage.responses import blob_response
from backend.uploads import actions
from backend.uploads.handlers import SizeLimitedUploadHandler
from backend.uploads.serializers import (
    ThumbnailQuerySerializer,
    UploadCreateSerializer,
    UploadListQuerySerializer,
    UploadSerializer,
)


class AnyAccept(BaseContentNegotiation):
    """Bytes answers ignore ``Accept`` (an ``<img>`` asks for image/*); error answers are JSON."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser:
        return next(iter(parsers))

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class UploadListView(APIView):
    parser_classes = [MultiPartParser]

    def initialize_request(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Request:
        if request.method == "POST":
            # Before anything reads the body (the CSRF check does, for session users): refuse big files early.
            request.upload_handlers = [SizeLimitedUploadHandler(request), *request.upload_handlers]
        return super().initialize_request(request, *args, **kwargs)

    @extend_schema(parameters=[UploadListQuerySerializer], responses=UploadSerializer(many=True))
    def get(self, request: AuthenticatedRequest) -> Response:
        query = UploadListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        uploads = visible_uploads(request.user).select_related("created_by")
        if "workspace" in params:
            uploads = uploads.filter(workspace=access_workspace(request.user, params["workspace"]))
        if params.get("kind"):
            uploads = uploads.filter(kind=params["kind"])
        if params.get("q"):
            uploads = uploads.filter(name__icontains=params["q"])
        return Response(UploadSerializer(uploads, many=True).data)

    @extend_schema(
        request={"multipart/form-data": UploadCreateSerializer},
        responses={
            201: UploadSerializer,
            200: OpenApiResponse(UploadSerializer, description="Same content already uploaded: that upload"),
            413: OpenApiResponse(description="The file is over FLOWYARD_MAX_UPLOAD_BYTES"),
        },
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        serializer = UploadCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        # Runners upload the inputs of their runs; changing what an existing name means is editing.
        workspace = access_workspace(request.user, data["workspace"], Need.RUN)
        if data["overwrite"]:
            check_need(workspace.role, Need.EDIT, "workspace")
        file = data["file"]
        upload, changed = actions.do_upload(
            request.user,
            workspace,
            file,
            data.get("name") or file.name,
            kind=data.get("kind"),
            client_content_type=file.content_type or "",
            overwrite=data["overwrite"],
        )
        return Response(
            UploadSerializer(upload).data, status=status.HTTP_201_CREATED if changed else status.HTTP_200_OK
        )


class UploadDetailView(APIView):
    @extend_schema(responses=UploadSerializer)
    def get(self, request: AuthenticatedRequest, upload_id: int) -> Response:
        return Response(UploadSerializer(access_upload(request.user, upload_id)).data)

    @extend_schema(responses={204: None})
    def delete(self, request: AuthenticatedRequest, upload_id: int) -> Response:
        actions.do_delete_upload(access_upload(request.user, upload_id, Need.EDIT))
        return Response(status=status.HTTP_204_NO_CONTENT)


class UploadContentView(APIView):
    content_negotiation_class = AnyAccept

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request: AuthenticatedRequest, upload_id: int) -> HttpResponseBase:
        upload = access_upload(request.user, upload_id)
        # Images show inline (the editor's previews); anything else downloads, never rendered on our origin.
        return blob_response(
            upload.sha256, upload.name, upload.content_type, request, as_attachment=not upload.is_image
        )


class UploadThumbnailView(APIView):
    content_negotiation_class = AnyAccept

    @extend_schema(parameters=[ThumbnailQuerySerializer], responses={(200, "image/png"): OpenApiTypes.BINARY})
    def get(self, request: AuthenticatedRequest, upload_id: int) -> HttpResponseBase:
        query = ThumbnailQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        size = int(query.validated_data["size"])
        upload = access_upload(request.user, upload_id)
        if not upload.is_image:
            raise NotFound(f"{upload.name!r} is not an image: it has no thumbnail.")
        sha = actions.ensure_thumbnail(upload, size)
        stem = upload.name.rsplit(".", 1)[0]
        return blob_response(sha, f"{stem}-{size}.png", "image/png", request)
