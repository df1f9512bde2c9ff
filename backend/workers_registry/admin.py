from django.contrib import admin

from backend.workers_registry.models import Worker


@admin.register(Worker)
class WorkerAdmin(admin.ModelAdmin):
    """Read-only: workers write their own rows."""

    list_display = ["name", "kind", "status", "last_heartbeat", "started"]
    list_filter = ["status", "kind"]
    search_fields = ["name", "hostname"]
    readonly_fields = [field.name for field in Worker._meta.fields]
