from django.contrib import admin
from django.http import HttpRequest

from backend.runs.models import NodeRun, Run, RunEvent, RunOutput


class NodeRunInline(admin.TabularInline):
    model = NodeRun
    extra = 0
    fields = ["node_id", "node_type", "status", "duration", "error"]
    readonly_fields = ["node_id", "node_type", "status", "duration", "error"]
    can_delete = False


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    """Read-mostly: runs change through their actions and workers, not by hand."""

    list_display = ["id", "workspace", "workflow", "status", "created_by", "priority", "created", "finished"]
    list_filter = ["status", "source"]
    search_fields = ["id", "workspace__slug", "workflow__name", "created_by__username"]
    raw_id_fields = ["workspace", "workflow", "workflow_version", "created_by", "rerun_of"]
    readonly_fields = ["last_seq", "attempts", "worker", "started", "finished", "dispatched"]
    inlines = [NodeRunInline]


@admin.register(RunEvent)
class RunEventAdmin(admin.ModelAdmin):
    list_display = ["run", "seq", "type", "node"]
    list_filter = ["type"]
    raw_id_fields = ["run"]

    def has_change_permission(self, request: HttpRequest, obj: RunEvent | None = None) -> bool:
        return False


@admin.register(RunOutput)
class RunOutputAdmin(admin.ModelAdmin):
    list_display = ["run", "node_id", "kind", "index", "filename", "saved", "size"]
    list_filter = ["kind", "saved"]
    raw_id_fields = ["run"]
