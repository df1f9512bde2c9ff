from __future__ import annotations

from rest_framework import serializers

from backend.accounts.models import User
from backend.workers_registry.models import ModelFetch, Worker
from nodepacks.sdk import NodeError
from workers.runtime.model_library import KIND_FOLDERS, canonical_kind
from workers.runtime.models import check_model_name


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
        return {
            key: caps.get(key)
            for key in ("cpu_count", "memory_bytes", "gpus", "packs", "pack_sandbox", "models_extra")
            if key in caps
        }


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
    # A declared field named like Field.source: DRF moves declared fields off the class, the stubs cannot know.
    source = serializers.DictField(allow_null=True)  # type: ignore[assignment]
    folder = serializers.BooleanField()
    workers = serializers.ListField(child=serializers.CharField())


class ModelListSerializer(serializers.Serializer):
    """``/api/models``: ModelScope models (paged-list shape, all on one page) and library files by kind."""

    count = serializers.IntegerField()
    results = ModelSerializer(many=True)
    files = serializers.DictField(child=ModelFileSerializer(many=True))


class ModelFetchRequestSerializer(serializers.Serializer):
    """``POST /api/models/fetch``: what to fetch. Everything becomes a path on a worker machine, so nothing that
    could walk out of the ModelScope cache or the library folder passes."""

    repo_id = serializers.CharField(max_length=200, help_text="ModelScope owner/name")
    file = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        default="",
        help_text="blank: the whole repo (diffusers)",
    )
    kind = serializers.CharField(max_length=64)
    revision = serializers.CharField(max_length=200, help_text="a tag or commit: revisions are pinned")
    local_files_only = serializers.BooleanField(required=False, default=False)
    overwrite = serializers.BooleanField(required=False, default=False)

    def validate_repo_id(self, value: str) -> str:
        value = value.strip()
        try:
            check_model_name(value)
        except NodeError:
            raise serializers.ValidationError("must be a ModelScope repo id like 'owner/name'") from None
        return value

    def validate_revision(self, value: str) -> str:
        value = value.strip()
        try:
            check_model_name("owner/name", value)
        except NodeError:
            raise serializers.ValidationError(
                "must be a branch, tag or commit name (letters, digits, . _ -)"
            ) from None
        return value

    def validate_file(self, value: str) -> str:
        value = value.strip().replace("\\", "/")
        if not value:
            return ""
        parts = value.split("/")
        if value.startswith("/") or ".." in parts or any(not part for part in parts) or ":" in parts[0]:
            raise serializers.ValidationError("must be a relative path inside the repo, without '..'")
        return value

    def validate_kind(self, value: str) -> str:
        try:
            return canonical_kind(value.strip())
        except NodeError:
            known = ", ".join(sorted(KIND_FOLDERS))
            raise serializers.ValidationError(
                f"{value!r} is not a model library kind (one of {known})"
            ) from None

    def validate(self, attrs: dict) -> dict:
        if not attrs.get("file") and attrs["kind"] != "diffusers":
            raise serializers.ValidationError(
                {"file": "required, unless kind is diffusers (then the whole repo is fetched as one folder)"}
            )
        return attrs


class ModelFetchSerializer(serializers.ModelSerializer):
    """A fetch job as site admins see it."""

    requested_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        model = ModelFetch
        fields = [
            "id",
            "repo_id",
            "file",
            "kind",
            "revision",
            "local_files_only",
            "overwrite",
            "status",
            "error",
            "name",
            "sha256",
            "size_bytes",
            "worker",
            "requested_by",
            "created",
            "started",
            "finished",
        ]
        read_only_fields = fields
