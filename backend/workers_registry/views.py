"""Workers API: the worker registry and the models workers can load. Any signed-in user may look; only staff
see hosts, processes, run ids and model paths (docs/permissions.md)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.workers_registry.catalog import files_overview, models_overview
from backend.workers_registry.models import Worker
from backend.workers_registry.serializers import (
    ModelListSerializer,
    ModelSerializer,
    StaffWorkerSerializer,
    WorkerSerializer,
)


class WorkerListView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("status", str, enum=[s.value for s in Worker.Status])],
        responses=WorkerSerializer(many=True),
    )
    def get(self, request):
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
    def get(self, request):
        task = request.query_params.get("task")
        kind = request.query_params.get("kind")
        models = [model for model in models_overview() if not task or model["task"] == task]
        files = files_overview(kind or None)
        if kind:  # under the name asked for, also when that is an alias (unet, clip) or the folder is empty
            files = {kind: next(iter(files.values()), [])}
        data = {"count": len(models), "results": ModelSerializer(models, many=True).data, "files": files}
        return Response(ModelListSerializer(data).data)
