"""Request validation and response shapes of the apps API."""

from __future__ import annotations

from rest_framework import serializers

from backend.accounts.serializers import UserRefSerializer
from backend.flowapps.models import App, AppKey


class AppPublishSerializer(serializers.Serializer):
    workflow = serializers.IntegerField(help_text="The workflow to publish.")
    version = serializers.IntegerField(
        required=False, min_value=1, help_text="Version number; default latest."
    )
    slug = serializers.SlugField(
        max_length=80, help_text="The app's address: /apps/<slug>, /api/apps/<slug>."
    )
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    visibility = serializers.ChoiceField(choices=App.Visibility.choices, default=App.Visibility.WORKSPACE)
    public_rate_limit = serializers.IntegerField(min_value=1, max_value=10_000, default=10)


class AppUpdateSerializer(serializers.Serializer):
    version = serializers.IntegerField(required=False, min_value=1, help_text="Pin another version.")
    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    visibility = serializers.ChoiceField(choices=App.Visibility.choices, required=False)
    public_rate_limit = serializers.IntegerField(min_value=1, max_value=10_000, required=False)
    enabled = serializers.BooleanField(required=False, help_text="False unpublishes the app.")


class AppSerializer(serializers.ModelSerializer):
    version = serializers.IntegerField(source="version.number", read_only=True)
    created_by = UserRefSerializer(allow_null=True, read_only=True)
    can_edit = serializers.SerializerMethodField()
    can_run = serializers.SerializerMethodField()
    can_open_graph = serializers.SerializerMethodField()

    class Meta:
        model = App
        fields = [
            "slug",
            "title",
            "description",
            "workspace",
            "workflow",
            "version",
            "visibility",
            "public_rate_limit",
            "enabled",
            "created_by",
            "created",
            "updated",
            "can_edit",
            "can_run",
            "can_open_graph",
        ]

    def get_can_edit(self, app: App) -> bool:
        role = getattr(app, "role", None)
        return bool(role is not None and role.can_edit and getattr(app, "via", "") == "member")

    def get_can_run(self, app: App) -> bool:
        role = getattr(app, "role", None)
        return bool((role is not None and role.can_run) or (app.enabled and app.is_public))

    def get_can_open_graph(self, app: App) -> bool:
        """Whether the caller may open the pinned workflow (runners of private workflows may not)."""
        role = getattr(app, "role", None)
        return bool(role is not None and app.workflow.is_visible_to(self.context.get("user"), role))  # type: ignore[arg-type]


class AppKeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)


class AppKeySerializer(serializers.ModelSerializer):
    created_by = UserRefSerializer(allow_null=True, read_only=True)

    class Meta:
        model = AppKey
        fields = ["id", "name", "prefix", "created_by", "created", "last_used", "revoked_at"]


class AppKeyCreatedSerializer(AppKeySerializer):
    key = serializers.CharField(source="raw", help_text="The secret: shown this once, never again.")

    class Meta(AppKeySerializer.Meta):
        fields = [*AppKeySerializer.Meta.fields, "key"]


class AppRunSummarySerializer(serializers.Serializer):
    id = serializers.UUIDField(source="run_id")
    status = serializers.CharField(source="run.status")
    created = serializers.DateTimeField(source="run.created")
    finished = serializers.DateTimeField(source="run.finished", allow_null=True)
    via = serializers.CharField()
    inputs = serializers.JSONField()
