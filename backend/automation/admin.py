from django.contrib import admin

from backend.automation.models import Schedule, Trigger, Webhook, WebhookDelivery


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    list_display = ["url", "workspace", "workflow", "active", "created"]
    exclude = ["secret"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "webhook", "event", "state", "attempts", "last_status_code", "created"]
    list_filter = ["state", "event"]


@admin.register(Trigger)
class TriggerAdmin(admin.ModelAdmin):
    list_display = ["id", "workflow", "owner", "active", "last_fired"]
    exclude = ["secret"]


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    list_display = ["id", "workflow", "cron", "timezone", "paused", "next_fire_at", "owner"]
