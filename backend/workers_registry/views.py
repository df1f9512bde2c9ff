"""Workers API: the worker registry and the models workers can load. Any signed-in user may look; only staff
see hosts, processes, run ids and model paths (docs/permissions.md)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.access import check_site_admin
from backend.accounts.authentication import AuthenticatedRequest
from backend.workers_registry.catalog import files_overview, models_overview
from backend.workers_registry.fetching import do_request_fetch
from backend.workers_registry.models import ModelFetch, Worker
from backend.workers_registry.serializers import (
    ModelFetchRequestSerializer,
    ModelFetchSerializer,
    ModelListSerializer,
    ModelSerializer,
    StaffWorkerSerializer,
    WorkerSerializer,
)

FETCHES_LISTED = 50


class WorkerListView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("status", str, enum=[s.value for s in Worker.Status])],
        responses=WorkerSerializer(many=True),
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        workers = Worker.objects.all()
        wanted = request.query_params.get("status")
        if wanted in Worker.Status.values:
            workers = workers.filter(status=wanted)
        serializer = StaffWorkerSerializer if request.user.is_staff else WorkerSerializer
        return Response(serializer(workers, many=True).data)


class ModelListView(APIView):
    """ModelScope models (``results``, ``?task=``) and model library files by kind (``files``, ``?kind=``);
    models are site-wide, so any signed-in user may list them."""

    @extend_schema(
        parameters=[OpenApiParameter("task", str), OpenApiParameter("kind", str)],
        responses=ModelListSerializer,
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        task = request.query_params.get("task")
        kind = request.query_params.get("kind")
        models = [model for model in models_overview() if not task or model["task"] == task]
        files = files_overview(kind or None)
        if kind:  # under the name asked for, also when that is an alias (unet, clip) or the folder is empty
            files = {kind: next(iter(files.values()), [])}
        data = {"count": len(models), "results": ModelSerializer(models, many=True).data, "files": files}
        return Response(ModelListSerializer(data).data)


class ModelFetchView(APIView):
    """``POST /api/models/fetch``: site admins fetch a ModelScope file (revision pinned) into the model library;
    answers 202 with the queued job, which a worker (or, embedded, this process) then runs."""

    @extend_schema(request=ModelFetchRequestSerializer, responses={202: ModelFetchSerializer})
    def post(self, request: AuthenticatedRequest) -> Response:
        check_site_admin(request.user, "fetch models into the library")
        serializer = ModelFetchRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        job = do_request_fetch(request.user, **serializer.validated_data)
        return Response(ModelFetchSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ModelFetchListView(APIView):
    """``GET /api/models/fetches``: the latest fetch jobs, newest first (site admins)."""

    @extend_schema(responses=ModelFetchSerializer(many=True))
    def get(self, request: AuthenticatedRequest) -> Response:
        check_site_admin(request.user, "see model fetches")
        jobs = ModelFetch.objects.select_related("requested_by")[:FETCHES_LISTED]
        return Response(ModelFetchSerializer(jobs, many=True).data)
