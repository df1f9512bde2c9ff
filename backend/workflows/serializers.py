"""Request validation and response shapes of the workflows API."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request

from backend.accounts.serializers import UserRefSerializer
from backend.workflows.documents import parse_document
from backend.workflows.models import Workflow, WorkflowVersion

# Inputs


class DocumentInputSerializer(serializers.Serializer):
    """A graph and layout; ``validated_data["document"]`` is the parsed ``Document``."""

    graph = serializers.JSONField(help_text="Graph JSON (see workers/engine/graph.py); structure is checked.")
    layout = serializers.JSONField(required=False, allow_null=True, help_text="Editor layout of the graph.")
    message = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs["document"] = parse_document(attrs["graph"], attrs.get("layout"))
        return attrs


class WorkflowCreateSerializer(DocumentInputSerializer):
    workspace = serializers.IntegerField()
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    visibility = serializers.ChoiceField(
        choices=Workflow.Visibility.choices, default=Workflow.Visibility.TEAM
    )


class WorkflowUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    is_template = serializers.BooleanField(required=False)
    is_site_template = serializers.BooleanField(required=False, help_text="Site admins only.")


class ForkSerializer(serializers.Serializer):
    workspace = serializers.IntegerField()
    name = serializers.CharField(max_length=200, required=False)


class ShareSerializer(serializers.Serializer):
    visibility = serializers.ChoiceField(choices=Workflow.Visibility.choices, required=False)
    public = serializers.BooleanField(
        required=False, help_text="true: publish a read-only link; false: revoke"
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError("Give 'visibility' or 'public'.")
        return attrs


class DiffQuerySerializer(serializers.Serializer):
    to = serializers.IntegerField(min_value=1, help_text="Version number to compare to.")
    # "from" is a Python keyword: declare the field through the class namespace.
    vars()["from"] = serializers.IntegerField(min_value=1, help_text="Version number to compare from.")


class WorkflowListQuerySerializer(serializers.Serializer):
    workspace = serializers.IntegerField(required=False)
    template = serializers.BooleanField(required=False, default=False)
    q = serializers.CharField(required=False, allow_blank=True, max_length=200)


class TemplateQuerySerializer(serializers.Serializer):
    workspace = serializers.IntegerField(required=False)


# Outputs


class VersionSerializer(serializers.ModelSerializer):
    author = UserRefSerializer(read_only=True)

    class Meta:
        model = WorkflowVersion
        fields = ["number", "message", "author", "created", "content_hash", "packs"]


class VersionDocumentSerializer(VersionSerializer):
    class Meta(VersionSerializer.Meta):
        fields = [*VersionSerializer.Meta.fields, "graph", "layout"]


class ForkedFromSerializer(serializers.Serializer):
    workflow = serializers.IntegerField(source="workflow_id")
    version = serializers.IntegerField(source="number")


class WorkflowSerializer(serializers.ModelSerializer):
    latest_version = serializers.SerializerMethodField()
    forked_from = ForkedFromSerializer(read_only=True, allow_null=True)
    created_by = UserRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Workflow
        fields = [
            "id",
            "name",
            "description",
            "workspace",
            "visibility",
            "is_template",
            "is_site_template",
            "latest_version",
            "created_by",
            "created",
            "updated",
            "forked_from",
        ]

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_latest_version(self, workflow: Workflow) -> int | None:
        number = getattr(workflow, "latest_number", None)
        if number is None and not hasattr(workflow, "latest_number"):
            latest = workflow.latest_version()
            number = latest.number if latest else None
        return number


class PermissionsSerializer(serializers.Serializer):
    view = serializers.BooleanField()
    run = serializers.BooleanField()
    edit = serializers.BooleanField()
    admin = serializers.BooleanField()


class WorkflowDetailSerializer(WorkflowSerializer):
    role = serializers.SerializerMethodField()
    permissions = serializers.SerializerMethodField()
    public_url = serializers.SerializerMethodField()
    version = serializers.SerializerMethodField()
    missing_packs = serializers.SerializerMethodField()

    class Meta(WorkflowSerializer.Meta):
        fields = [
            *WorkflowSerializer.Meta.fields,
            "role",
            "permissions",
            "public_url",
            "version",
            "missing_packs",
        ]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_role(self, workflow: Workflow) -> str | None:
        role = getattr(workflow, "role", None)
        return str(role) if role else None

    @extend_schema_field(PermissionsSerializer)
    def get_permissions(self, workflow: Workflow) -> dict[str, bool]:
        role = getattr(workflow, "role", None)
        return {
            "view": True,
            "run": bool(role and role.can_run),
            "edit": bool(role and role.can_edit),
            "admin": bool(role and role.can_admin),
        }

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_public_url(self, workflow: Workflow) -> str | None:
        return public_url(self.context.get("request"), workflow)

    @extend_schema_field(VersionDocumentSerializer)
    def get_version(self, workflow: Workflow) -> dict | None:
        latest = workflow.latest_version()
        return VersionDocumentSerializer(latest).data if latest else None

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_missing_packs(self, workflow: Workflow) -> list[dict]:
        """Packs the latest version uses that the workspace lacks or has at another version (docs/api.md)."""
        from backend.registry.installs import missing_packs

        latest = workflow.latest_version()
        return missing_packs(workflow.workspace, latest.packs, latest.graph) if latest else []


class ShareResultSerializer(serializers.Serializer):
    visibility = serializers.CharField()
    public_url = serializers.CharField(allow_null=True)


class NodeChangeSerializer(serializers.Serializer):
    node = serializers.CharField()
    inputs = serializers.ListField(child=serializers.CharField())


class TypeChangeSerializer(serializers.Serializer):
    node = serializers.CharField()
    to = serializers.CharField()
    vars()["from"] = serializers.CharField()


class DiffSerializer(serializers.Serializer):
    added = serializers.ListField(child=serializers.CharField())
    removed = serializers.ListField(child=serializers.CharField())
    changed = NodeChangeSerializer(many=True)
    type_changed = TypeChangeSerializer(many=True)


class PublicWorkflowSerializer(serializers.ModelSerializer):
    version = serializers.SerializerMethodField()

    class Meta:
        model = Workflow
        fields = ["name", "description", "updated", "version"]

    @extend_schema_field(VersionDocumentSerializer)
    def get_version(self, workflow: Workflow) -> dict | None:
        latest = workflow.latest_version()
        if latest is None:
            return None
        data = VersionDocumentSerializer(latest).data
        data["author"] = None  # an anonymous reader learns nothing about the team
        return data


def public_url(request: Request | None, workflow: Workflow) -> str | None:
    """The absolute read-only link of a published workflow, or None."""
    if workflow.public_token is None:
        return None
    path = f"/api/public/{workflow.public_token}"
    return request.build_absolute_uri(path) if request is not None else path
