from django.contrib import admin

from backend.workers_registry.models import ModelFetch, Worker


@admin.register(Worker)
class WorkerAdmin(admin.ModelAdmin):
    """Read-only: workers write their own rows."""

    list_display = ["name", "kind", "status", "last_heartbeat", "started"]
    list_filter = ["status", "kind"]
    search_fields = ["name", "hostname"]
    readonly_fields = [field.name for field in Worker._meta.fields]


@admin.register(ModelFetch)
class ModelFetchAdmin(admin.ModelAdmin):
    """Read-only: jobs are asked for through the API and written by whoever runs them."""

    list_display = ["repo_id", "file", "kind", "revision", "status", "requested_by", "created"]
    list_filter = ["status", "kind"]
    search_fields = ["repo_id", "file", "name", "sha256"]
    readonly_fields = [field.name for field in ModelFetch._meta.fields]
