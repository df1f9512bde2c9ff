"""The node catalog and the node-pack marketplace API: upload, review, browse, download, install."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.db.models import Prefetch, Q, QuerySet
from django.http.response import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.access import (
    Need,
    access_pack,
    access_pack_version,
    access_workspace,
    manageable_publishers,
    visible_pack_versions,
    visible_packs,
)
from backend.accounts.authentication import AuthenticatedRequest
from backend.accounts.exceptions import ApiError
from backend.accounts.models import AnyUser, User, Workspace
from backend.registry import actions
from backend.registry.archives import ArchiveError, read_manifest
from backend.registry.installs import workspace_catalog
from backend.registry.models import NodePack, NodePackVersion, Publisher, TeamPackInstall
from backend.registry.serializers import (
    DeprecateSerializer,
    InstallSerializer,
    PackListQuerySerializer,
    PackUpdateSerializer,
    PublisherCreateSerializer,
    PublisherUpdateSerializer,
    ReasonSerializer,
    UploadSerializer,
    install_json,
    pack_json,
    publisher_json,
    version_json,
)
from backend.registry.validation import enqueue_validation, server_limits
from backend.storage.responses import blob_response

OBJECT = {200: OpenApiTypes.OBJECT}


def _etag_matches(header: str, etag: str) -> bool:
    candidates = {item.strip().removeprefix("W/") for item in header.split(",")}
    return "*" in candidates or f'"{etag}"' in candidates


def _site_admin(user: AnyUser) -> bool:
    return bool(getattr(user, "is_site_admin", False))


def _require_site_admin(user: AnyUser) -> None:
    if not _site_admin(user):
        raise PermissionDenied("Only site admins review node packs.")


class NodeCatalogView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("workspace", int, description="add the packs installed in this workspace")
        ],
        responses={200: OpenApiTypes.OBJECT, 304: OpenApiResponse(description="Not modified")},
        summary="The node catalog",
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        workspace_id = request.query_params.get("workspace")
        workspace = access_workspace(request.user, workspace_id) if workspace_id else None
        catalog, etag = workspace_catalog(workspace)
        headers = {"ETag": f'"{etag}"', "Cache-Control": "private, no-cache"}
        if _etag_matches(request.headers.get("If-None-Match", ""), etag):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers=headers)
        return Response(catalog, headers=headers)


# Upload


def _personal_slug(user: User) -> str:
    return user.username.lower().replace("_", "-").replace(".", "-")


def _publisher_for_upload(user: User, slug: str) -> Publisher:
    publisher = Publisher.objects.filter(slug=slug).first()
    if publisher is None:
        if slug == _personal_slug(user) and not Publisher.objects.filter(user=user).exists():
            return actions.do_create_publisher(user, slug, user.username)
        raise ApiError(
            f'There is no publisher {slug!r}. Set `publisher = "{_personal_slug(user)}"` in flowyard.toml to '
            "publish as yourself, or create a publisher for your team with POST /api/publishers.",
            [{"field": "publisher", "message": "no such publisher"}],
        )
    if not manageable_publishers(user).filter(pk=publisher.pk).exists():
        raise ApiError(
            f"You may not publish as {slug!r}: only its user, or its team's owner and admins, may.",
            [{"field": "publisher", "message": "not yours"}],
            status_code=403,
        )
    return publisher


def _verdict_response(request: Request, version: NodePackVersion, status_code: int | None = None) -> Response:
    body = {
        "status": version.status if version.is_validated() else "validating",
        "message": version.verdict(),
        "report": version.report,
        "url": request.build_absolute_uri(f"/api/packs/versions/{version.pk}"),
        "version": version_json(version, full=True, manager=True),
    }
    if status_code is None:
        if not version.is_validated():
            status_code = status.HTTP_202_ACCEPTED
        elif version.status == NodePackVersion.Status.REJECTED:
            status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
        else:
            status_code = status.HTTP_201_CREATED
    return Response(body, status=status_code)


def _wait_for_verdict(version: NodePackVersion, seconds: float) -> NodePackVersion:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if NodePackVersion.objects.filter(pk=version.pk, validated_at__isnull=False).exists():
            break
        time.sleep(0.1)
    return NodePackVersion.objects.select_related("pack__publisher", "uploaded_by", "reviewed_by").get(
        pk=version.pk
    )


class PackUploadView(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": UploadSerializer}, responses=OBJECT, summary="Publish a pack"
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        try:
            return self._upload(request)
        except ApiError as exc:
            # `flowyard pack publish` prints `status` and `message`; the usual error shape stays.
            body = {**exc.payload, "status": "rejected", "message": exc.payload["detail"], "report": None}
            return Response(body, status=exc.status_code)

    def _upload(self, request: AuthenticatedRequest) -> Response:
        if "archive" not in request.FILES:
            raise ApiError(
                "Send the pack as the multipart field 'archive' (a .flowyard.zip).",
                [{"field": "archive", "message": "required"}],
            )
        form = UploadSerializer(data=request.data)
        if not form.is_valid():
            first = next(iter(form.errors.items()))
            raise ApiError(f"{first[0]}: {first[1][0]}", [{"field": first[0], "message": str(first[1][0])}])
        upload = form.validated_data["archive"]
        limit = server_limits().max_archive_bytes
        if upload.size > limit:
            raise ApiError(
                f"The archive is {upload.size} bytes, more than the limit of {limit}.",
                [{"field": "archive", "message": "too large"}],
                status_code=413,
            )
        with tempfile.TemporaryDirectory(prefix="flowyard-upload-") as folder:
            path = Path(folder) / "upload.zip"
            with path.open("wb") as target:
                for chunk in upload.chunks():
                    target.write(chunk)
            try:
                manifest = read_manifest(path)
            except ArchiveError as exc:
                raise ApiError(
                    f"The archive cannot be read: {exc}", [{"field": "archive", "message": str(exc)}]
                ) from None
            publisher = _publisher_for_upload(request.user, manifest.publisher)
            from backend.storage.blobs import get_blob_store

            with path.open("rb") as handle:
                sha, size = get_blob_store().put_stream(handle)
        sent = form.validated_data.get("sha256")
        if sent and sent != sha:
            raise ApiError(
                "The archive's sha256 does not match the one sent: the upload was damaged; publish again.",
                [{"field": "sha256", "message": "does not match the archive"}],
            )
        version = actions.do_upload_version(
            request.user, publisher, manifest, sha, size, form.validated_data.get("visibility")
        )
        enqueue_validation(version.pk)
        version = _wait_for_verdict(version, settings.FLOWYARD_PACK_VERDICT_WAIT)
        return _verdict_response(request, version)


# Versions: polling, review, the publisher's controls


def _manager_view(user: AnyUser, version: NodePackVersion) -> bool:
    return bool(version.pack.can_manage) or _site_admin(user)


class VersionByIdView(APIView):
    @extend_schema(responses=OBJECT, summary="A pack version (poll after an upload)")
    def get(self, request: AuthenticatedRequest, version_id: int) -> Response:
        version = access_pack_version(request.user, version_id)
        return Response(version_json(version, full=True, manager=_manager_view(request.user, version)))


class ReviewQueueView(APIView):
    @extend_schema(responses=OBJECT, summary="Versions waiting for a site admin")
    def get(self, request: AuthenticatedRequest) -> Response:
        _require_site_admin(request.user)
        waiting = (
            NodePackVersion.objects.filter(
                status__in=[NodePackVersion.Status.FLAGGED, NodePackVersion.Status.PENDING]
            )
            .select_related("pack__publisher", "uploaded_by", "reviewed_by")
            .order_by("created", "id")
        )
        return Response(
            [
                {**version_json(v, manager=True), "publisher": v.pack.publisher.slug, "findings": v.findings}
                for v in waiting
            ]
        )


class VersionActionView(APIView):
    """POST /api/packs/versions/<id>/<approve|reject|yank|unyank|deprecate>."""

    @extend_schema(request=ReasonSerializer, responses=OBJECT, summary="Review or change a pack version")
    def post(self, request: AuthenticatedRequest, version_id: int, verb: str) -> Response:
        user = request.user
        version = access_pack_version(user, version_id)
        if verb in ("approve", "reject"):
            _require_site_admin(user)
            body = ReasonSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            reason = body.validated_data["reason"]
            if verb == "approve":
                version = actions.do_approve_version(version, user, reason)
            else:
                version = actions.do_reject_version(version, user, reason)
        elif verb in ("yank", "unyank", "deprecate"):
            if not _manager_view(user, version):
                raise PermissionDenied(
                    "Only the pack's publisher (or a site admin) may yank or deprecate it."
                )
            if verb == "yank":
                body = ReasonSerializer(data=request.data)
                body.is_valid(raise_exception=True)
                version = actions.do_yank_version(version, body.validated_data["reason"])
            elif verb == "unyank":
                version = actions.do_unyank_version(version)
            else:
                deprecation = DeprecateSerializer(data=request.data)
                deprecation.is_valid(raise_exception=True)
                version = actions.do_deprecate_version(version, deprecation.validated_data["message"])
        else:
            return Response({"detail": f"Unknown action {verb!r}.", "errors": []}, status=404)
        return Response(version_json(version, full=True, manager=True))


# Browse


def _with_active_versions(packs: QuerySet[NodePack]) -> QuerySet[NodePack]:
    active = NodePackVersion.objects.filter(status=NodePackVersion.Status.ACTIVE, yanked=False)
    return packs.prefetch_related(Prefetch("versions", queryset=active, to_attr="installable"))


def _latest(pack: NodePack) -> NodePackVersion | None:
    return max(getattr(pack, "installable", []), key=lambda v: v.sort_key, default=None)


class PackListView(APIView):
    @extend_schema(parameters=[PackListQuerySerializer], responses=OBJECT, summary="Search node packs")
    def get(self, request: AuthenticatedRequest) -> Response:
        query = PackListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        packs = visible_packs(request.user)
        if params.get("q"):
            q = params["q"]
            packs = packs.filter(
                Q(name__icontains=q) | Q(display_name__icontains=q) | Q(description__icontains=q)
            )
        if params.get("category"):
            packs = packs.filter(categories__icontains=f'"{params["category"]}"')
        if params.get("publisher"):
            packs = packs.filter(publisher__slug=params["publisher"])
        node_type = params.get("node_type")
        if node_type:
            packs = packs.filter(name=node_type.split(".", 1)[0])
        result = []
        for pack in _with_active_versions(packs.order_by("name")):
            latest = _latest(pack)
            known = latest is not None and latest.nodes_recorded_at is not None
            if (
                node_type
                and known
                and latest is not None
                and not any(node.get("type") == node_type for node in latest.nodes)
            ):
                continue
            result.append(pack_json(pack, latest))
        return Response(result)


class PackDetailView(APIView):
    @extend_schema(responses=OBJECT, summary="A node pack with README, versions, nodes and findings")
    def get(self, request: AuthenticatedRequest, name: str) -> Response:
        pack = access_pack(request.user, name)
        versions = sorted(
            visible_pack_versions(request.user, pack).select_related("reviewed_by", "uploaded_by"),
            key=lambda v: v.sort_key,
            reverse=True,
        )
        for version in versions:
            version.pack = pack
        latest = max((v for v in versions if v.is_installable()), key=lambda v: v.sort_key, default=None)
        shown = latest or (versions[0] if versions else None)
        manager = bool(pack.can_manage) or _site_admin(request.user)
        data = pack_json(pack, latest)
        data.update(
            {
                "versions": [version_json(v, manager=manager) for v in versions],
                "shown_version": shown.version if shown else None,
                "readme_html": shown.readme_html if shown else "",
                "nodes": shown.nodes if shown else [],
                "nodes_known": bool(shown and shown.nodes_recorded_at),
                "findings": shown.findings if shown else [],
                "installed_in": TeamPackInstall.objects.filter(pack=pack).count(),
            }
        )
        return Response(data)

    @extend_schema(request=PackUpdateSerializer, responses=OBJECT, summary="Change a pack's visibility")
    def patch(self, request: AuthenticatedRequest, name: str) -> Response:
        pack = access_pack(request.user, name, manage=True)
        body = PackUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        pack = actions.do_update_pack(pack, **body.validated_data)
        return Response(pack_json(pack, pack.latest_active()))


class PackVersionDetailView(APIView):
    @extend_schema(responses=OBJECT, summary="One version of a pack")
    def get(self, request: AuthenticatedRequest, name: str, version: str) -> Response:
        found = access_pack_version(request.user, pack_name=name, version=version)
        return Response(version_json(found, full=True, manager=_manager_view(request.user, found)))


class PackDownloadView(APIView):
    @extend_schema(responses={200: OpenApiTypes.BINARY}, summary="Download a pack version's archive")
    def get(self, request: AuthenticatedRequest, name: str, version: str) -> HttpResponseBase:
        found = access_pack_version(request.user, pack_name=name, version=version)
        actions.do_count_download(found)
        return blob_response(
            found.archive_sha256,
            f"{name}-{found.version}.flowyard.zip",
            "application/zip",
            request,
            as_attachment=True,
        )


# Publishers


class PublisherListView(APIView):
    @extend_schema(responses=OBJECT, summary="The publishers the caller manages")
    def get(self, request: AuthenticatedRequest) -> Response:
        return Response(
            [publisher_json(p) for p in manageable_publishers(request.user).select_related("user")]
        )

    @extend_schema(request=PublisherCreateSerializer, responses=OBJECT, summary="Create a publisher")
    def post(self, request: AuthenticatedRequest) -> Response:
        body = PublisherCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        workspace = None
        if "workspace" in data:
            workspace = access_workspace(request.user, data["workspace"], Need.ADMIN, kind="team")
        publisher = actions.do_create_publisher(request.user, data["slug"], data["display_name"], workspace)
        return Response(publisher_json(publisher), status=status.HTTP_201_CREATED)


class PublisherDetailView(APIView):
    def _load(self, slug: str) -> Publisher:
        publisher = Publisher.objects.select_related("user").filter(slug=slug).first()
        if publisher is None:
            from rest_framework.exceptions import NotFound

            raise NotFound("No such publisher.")
        return publisher

    @extend_schema(responses=OBJECT, summary="A publisher and the packs of it the caller may see")
    def get(self, request: AuthenticatedRequest, slug: str) -> Response:
        publisher = self._load(slug)
        packs = _with_active_versions(visible_packs(request.user).filter(publisher=publisher))
        data = publisher_json(publisher)
        data["can_manage"] = manageable_publishers(request.user).filter(pk=publisher.pk).exists()
        data["packs"] = [pack_json(p, _latest(p)) for p in packs]
        return Response(data)

    @extend_schema(
        request=PublisherUpdateSerializer, responses=OBJECT, summary="Rename or (site admins) trust"
    )
    def patch(self, request: AuthenticatedRequest, slug: str) -> Response:
        publisher = self._load(slug)
        body = PublisherUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        changes = body.validated_data
        if "trusted" in changes:
            _require_site_admin(request.user)
        if (
            "display_name" in changes
            and not manageable_publishers(request.user).filter(pk=publisher.pk).exists()
        ) and not _site_admin(request.user):
            raise PermissionDenied(
                "Only the publisher's user, or its team's owner and admins, may rename it."
            )
        return Response(publisher_json(actions.do_update_publisher(publisher, **changes)))


# Installs


def _installs(workspace: Workspace) -> QuerySet[TeamPackInstall]:
    return TeamPackInstall.objects.filter(workspace=workspace).select_related(
        "pack", "version", "installed_by"
    )


class WorkspacePackListView(APIView):
    @extend_schema(responses=OBJECT, summary="Packs installed in a workspace")
    def get(self, request: AuthenticatedRequest, workspace_id: int) -> Response:
        workspace = access_workspace(request.user, workspace_id)
        installs = list(_installs(workspace))
        packs = _with_active_versions(NodePack.objects.filter(pk__in=[i.pack_id for i in installs]))
        latest = {pack.pk: _latest(pack) for pack in packs}
        return Response([install_json(i, latest.get(i.pack_id)) for i in installs])

    @extend_schema(request=InstallSerializer, responses=OBJECT, summary="Install, upgrade or pin a pack")
    def post(self, request: AuthenticatedRequest, workspace_id: int) -> Response:
        workspace = access_workspace(request.user, workspace_id, Need.ADMIN)
        body = InstallSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        pack = access_pack(request.user, data["pack"])
        version = None
        if data.get("version"):
            version = access_pack_version(request.user, pack_name=pack.name, version=data["version"])
        existed = TeamPackInstall.objects.filter(workspace=workspace, pack=pack).exists()
        install = actions.do_install_pack(workspace, pack, version, request.user)
        install = _installs(workspace).get(pk=install.pk)
        return Response(
            install_json(install, pack.latest_active()),
            status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED,
        )


class WorkspacePackDetailView(APIView):
    @extend_schema(responses={204: None}, summary="Remove a pack from a workspace")
    def delete(self, request: AuthenticatedRequest, workspace_id: int, name: str) -> Response:
        workspace = access_workspace(request.user, workspace_id, Need.ADMIN)
        actions.do_remove_pack(workspace, name)
        return Response(status=status.HTTP_204_NO_CONTENT)
