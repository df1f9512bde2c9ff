"""Automation API payloads. Secrets appear only in the answer that creates or rotates them."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework import serializers

from backend.automation.models import (
    EVENT_TYPES,
    DeliveryAttempt,
    Schedule,
    ScheduleFiring,
    Trigger,
    Webhook,
    WebhookDelivery,
)
from backend.automation.schedules import ScheduleError, occurrences_after

PREVIEW_COUNT = 5


class WebhookSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)

    class Meta:
        model = Webhook
        fields = [
            "id",
            "workspace",
            "workflow",
            "url",
            "description",
            "events",
            "active",
            "created",
            "created_by",
        ]
        read_only_fields = fields


class WebhookWithSecretSerializer(WebhookSerializer):
    secret = serializers.CharField(read_only=True, help_text="Shown once: keep it to verify signatures.")

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookWriteSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=2000)
    events = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_TYPES), min_length=1)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    active = serializers.BooleanField(required=False)


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["number", "started", "status_code", "response_excerpt", "duration_ms", "error"]
        read_only_fields = fields


class DeliverySerializer(serializers.ModelSerializer):
    message_id = serializers.CharField(read_only=True, help_text="The webhook-id header of every attempt.")
    attempt_log = AttemptSerializer(many=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "message_id",
            "webhook",
            "event",
            "event_key",
            "run_id",
            "state",
            "attempts",
            "created",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "delivered",
            "payload",
            "attempt_log",
        ]
        read_only_fields = fields


class TriggerSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True)
    url = serializers.SerializerMethodField(help_text="POST a JSON body here with the secret to start a run.")

    class Meta:
        model = Trigger
        fields = [
            "id",
            "workflow",
            "version",
            "description",
            "mapping",
            "active",
            "owner",
            "created",
            "last_fired",
            "url",
        ]
        read_only_fields = fields

    def get_url(self, trigger: Trigger) -> str:
        path = f"/api/triggers/{trigger.pk}"
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class TriggerWithSecretSerializer(TriggerSerializer):
    secret = serializers.CharField(read_only=True, help_text="Shown once.")

    class Meta(TriggerSerializer.Meta):
        fields = [*TriggerSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class TriggerWriteSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    mapping = serializers.DictField(child=serializers.CharField(), required=False)
    active = serializers.BooleanField(required=False)


class TriggerFiredSerializer(serializers.Serializer):
    run = serializers.UUIDField()
    status = serializers.CharField()
    url = serializers.CharField()


class FiringSerializer(serializers.ModelSerializer):
    class Meta:
        model = ScheduleFiring
        fields = ["occurrence", "fired", "run_id", "error", "missed"]
        read_only_fields = fields


class ScheduleSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True)
    next_runs = serializers.SerializerMethodField(help_text="The next occurrences (UTC), paused or not.")
    recent_firings = serializers.SerializerMethodField()

    class Meta:
        model = Schedule
        fields = [
            "id",
            "workflow",
            "version",
            "description",
            "cron",
            "timezone",
            "catch_up",
            "inputs",
            "paused",
            "owner",
            "created",
            "next_fire_at",
            "last_fired",
            "next_runs",
            "recent_firings",
        ]
        read_only_fields = fields

    def get_next_runs(self, schedule: Schedule) -> list[str]:
        start = schedule.next_fire_at or timezone.now()
        first = [start] if schedule.next_fire_at is not None else []
        rest = occurrences_after(schedule.cron, schedule.timezone, start, PREVIEW_COUNT - len(first))
        return [moment.isoformat() for moment in first + rest]

    def get_recent_firings(self, schedule: Schedule) -> list[dict[str, Any]]:
        return FiringSerializer(schedule.firings.all()[:5], many=True).data  # type: ignore[return-value]


class ScheduleWriteSerializer(serializers.Serializer):
    cron = serializers.CharField(max_length=200)
    timezone = serializers.CharField(max_length=64, required=False)
    catch_up = serializers.ChoiceField(choices=Schedule.CatchUp.choices, required=False)
    inputs = serializers.DictField(child=serializers.DictField(), required=False)
    version = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    paused = serializers.BooleanField(required=False)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)


class SchedulePreviewSerializer(serializers.Serializer):
    cron = serializers.CharField(max_length=200)
    timezone = serializers.CharField(max_length=64, default="UTC")
    count = serializers.IntegerField(min_value=1, max_value=50, default=PREVIEW_COUNT)

    def preview(self) -> list[str]:
        from backend.automation.schedules import check_cron, zone

        data = self.validated_data
        try:
            cron = check_cron(data["cron"])
            zone(data["timezone"])
        except ScheduleError as exc:
            raise serializers.ValidationError({exc.field: [str(exc)]}) from None
        return [
            moment.isoformat()
            for moment in occurrences_after(cron, data["timezone"], timezone.now(), data["count"])
        ]


class PreviewAnswerSerializer(serializers.Serializer):
    next_runs = serializers.ListField(child=serializers.DateTimeField())
