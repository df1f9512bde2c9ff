from __future__ import annotations

from rest_framework import serializers

from backend.workers_registry.models import Worker


class WorkerSerializer(serializers.ModelSerializer):
    """A worker as every signed-in user sees it: name, status, what it can run."""

    alive = serializers.SerializerMethodField()
    busy = serializers.SerializerMethodField()
    capabilities = serializers.SerializerMethodField()

    class Meta:
        model = Worker
        fields = [
            "name",
            "kind",
            "status",
            "alive",
            "busy",
            "queues",
            "concurrency",
            "capabilities",
            "last_heartbeat",
        ]

    def get_alive(self, worker: Worker) -> bool:
        return worker.is_alive()

    def get_busy(self, worker: Worker) -> bool:
        return bool(worker.current_runs)

    def get_capabilities(self, worker: Worker) -> dict:
        caps = worker.capabilities or {}
        return {key: caps.get(key) for key in ("cpu_count", "memory_bytes", "gpus", "packs") if key in caps}


class StaffWorkerSerializer(WorkerSerializer):
    """Everything, for staff: host and process, the runs it executes, warm and available models."""

    class Meta(WorkerSerializer.Meta):
        fields = [
            *WorkerSerializer.Meta.fields,
            "hostname",
            "pid",
            "current_runs",
            "warm_models",
            "available_models",
            "model_files",
            "started",
        ]

    def get_capabilities(self, worker: Worker) -> dict:
        return dict(worker.capabilities or {})


class ModelSerializer(serializers.Serializer):
    """A model some worker can load."""

    model_id = serializers.CharField()
    revision = serializers.CharField()
    task = serializers.CharField(allow_null=True)
    framework = serializers.CharField(allow_null=True)
    size_bytes = serializers.IntegerField(allow_null=True)
    workers = serializers.ListField(child=serializers.CharField())
    warm_on = serializers.ListField(child=serializers.CharField())


class ModelFileSerializer(serializers.Serializer):
    """A model library file (or diffusers folder) some worker lists."""

    name = serializers.CharField()
    size_bytes = serializers.IntegerField(allow_null=True)
    sha256 = serializers.CharField(allow_null=True)
    source = serializers.DictField(allow_null=True)
    folder = serializers.BooleanField()
    workers = serializers.ListField(child=serializers.CharField())


class ModelListSerializer(serializers.Serializer):
    """``/api/models``: ModelScope models (paged-list shape, all on one page) and library files by kind."""

    count = serializers.IntegerField()
    results = ModelSerializer(many=True)
    files = serializers.DictField(child=ModelFileSerializer(many=True))
