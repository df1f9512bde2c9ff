"""Request validation and response shapes of the runs API."""

from __future__ import annotations

from typing import Any, cast

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from backend.accounts.serializers import UserRefSerializer
from backend.runs.models import NodeRun, Run, RunOutput

MAX_PRIORITY = 10

# Inputs


class RunCreateSerializer(serializers.Serializer):
    """``{workflow, version?}`` or ``{workspace, graph}``, plus ``overrides``, ``outputs``, ``priority``."""

    workflow = serializers.IntegerField(required=False, help_text="Run a version of this workflow.")
    version = serializers.IntegerField(
        required=False, min_value=1, help_text="Version number; default latest."
    )
    workspace = serializers.IntegerField(required=False, help_text="With 'graph': the workspace to run in.")
    graph = serializers.JSONField(required=False, help_text="A graph to run as is (API clients).")
    overrides = serializers.DictField(
        child=serializers.DictField(),
        required=False,
        help_text='Constant inputs to replace before validation: {"<node>": {"<input>": value}}.',
    )
    outputs = serializers.ListField(
        child=serializers.CharField(max_length=200),
        required=False,
        allow_empty=False,
        help_text="Node ids to compute; default: the graph's outputs, else every output node.",
    )
    priority = serializers.IntegerField(
        required=False, default=0, min_value=-MAX_PRIORITY, max_value=MAX_PRIORITY
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "workflow" in attrs:
            for name in ("workspace", "graph"):
                if name in attrs:
                    raise serializers.ValidationError(
                        {name: "Give either 'workflow' or 'workspace' and 'graph'."}
                    )
        else:
            if "version" in attrs:
                raise serializers.ValidationError({"version": "'version' goes with 'workflow'."})
            missing = [name for name in ("workspace", "graph") if name not in attrs]
            for name in missing:
                raise serializers.ValidationError({name: "Required unless 'workflow' is given."})
        return attrs


class RunListQuerySerializer(serializers.Serializer):
    mine = serializers.BooleanField(required=False, default=False, help_text="Only runs the caller started.")
    workspace = serializers.IntegerField(required=False)
    workflow = serializers.IntegerField(required=False)
    status = serializers.ChoiceField(choices=Run.Status.choices, required=False)


class EventQuerySerializer(serializers.Serializer):
    after = serializers.IntegerField(
        required=False, default=0, min_value=0, help_text="Last seq already seen."
    )
    limit = serializers.IntegerField(required=False, default=500, min_value=1, max_value=1000)


# Outputs


class OutputSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = RunOutput
        fields = [
            "id",
            "node_id",
            "index",
            "kind",
            "filename",
            "content_type",
            "size",
            "saved",
            "text",
            "data",
            "url",
        ]

    def get_url(self, output: RunOutput) -> str | None:
        return output.url()


class NodeRunSerializer(serializers.ModelSerializer):
    type = serializers.CharField(source="node_type")
    progress = serializers.SerializerMethodField()

    class Meta:
        model = NodeRun
        fields = [
            "node_id",
            "type",
            "status",
            "started",
            "finished",
            "duration",
            "progress",
            "error",
            "error_type",
            "traceback",
            "outputs",
        ]

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_progress(self, node: NodeRun) -> dict | None:
        if node.progress_value is None:
            return None
        return {"value": node.progress_value, "max": node.progress_max}


class RunSerializer(serializers.ModelSerializer):
    """A run in lists: what, who, state and timings."""

    workflow_version = serializers.SerializerMethodField()
    created_by = UserRefSerializer(read_only=True)
    queue_position = serializers.SerializerMethodField()
    duration = serializers.SerializerMethodField()

    class Meta:
        model = Run
        fields = [
            "id",
            "status",
            "workspace",
            "workflow",
            "workflow_version",
            "created_by",
            "source",
            "priority",
            "created",
            "started",
            "finished",
            "duration",
            "error",
            "queue_position",
            "cancel_requested",
            "rerun_of",
            "last_seq",
        ]

    @extend_schema_field(OpenApiTypes.INT)
    def get_workflow_version(self, run: Run) -> int | None:
        version = run.workflow_version
        return version.number if version is not None else None

    @extend_schema_field(OpenApiTypes.INT)
    def get_queue_position(self, run: Run) -> int | None:
        return run.queue_position()

    @extend_schema_field(OpenApiTypes.FLOAT)
    def get_duration(self, run: Run) -> float | None:
        return run.duration()


class RunDetailSerializer(RunSerializer):
    """A run with its graph, every node's state, and its outputs (previews left out)."""

    nodes = serializers.SerializerMethodField()
    results = serializers.SerializerMethodField()

    class Meta(RunSerializer.Meta):
        fields = [
            *RunSerializer.Meta.fields,
            "graph",
            "outputs",
            "packs",
            "worker",
            "attempts",
            "nodes",
            "results",
        ]

    @extend_schema_field(NodeRunSerializer(many=True))
    def get_nodes(self, run: Run) -> list[Any]:
        created = getattr(run, "created_nodes", None)
        if created is not None:  # just created (do_create_run): the rows as inserted, without reading them
            return [_new_node_json(node_id, node_type) for node_id, node_type in created]
        # many=True makes a ListSerializer, whose data is a list (the stubs type the constructor's result only).
        return cast(list[Any], NodeRunSerializer(run.node_runs.order_by("position"), many=True).data)

    @extend_schema_field(OutputSerializer(many=True))
    def get_results(self, run: Run) -> list[Any]:
        if getattr(run, "created_nodes", None) is not None:
            return []  # a run just created has no outputs yet
        outputs = run.run_outputs.exclude(kind=RunOutput.Kind.PREVIEW).order_by(
            "node_id", "kind", "index", "id"
        )
        return cast(list[Any], OutputSerializer(outputs, many=True).data)


def _new_node_json(node_id: str, node_type: str) -> dict:
    """``NodeRunSerializer``'s output for a node row just inserted (queued, nothing recorded yet), built directly:
    for a 500-node run the serializer's field machinery cost more than the insert."""
    return {
        "node_id": node_id,
        "type": node_type,
        "status": NodeRun.Status.QUEUED,
        "started": None,
        "finished": None,
        "duration": None,
        "progress": None,
        "error": "",
        "error_type": "",
        "traceback": "",
        "outputs": [],
    }


class EventPageSerializer(serializers.Serializer):
    run = serializers.UUIDField()
    status = serializers.CharField()
    last_seq = serializers.IntegerField()
    events = serializers.ListField(child=serializers.DictField())
    more = serializers.BooleanField(help_text="True when more events follow the last one returned.")
