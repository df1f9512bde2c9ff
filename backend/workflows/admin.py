from django.contrib import admin
from django.http import HttpRequest

from backend.workflows.models import Workflow, WorkflowVersion


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    list_display = ["name", "workspace", "visibility", "is_template", "is_site_template", "updated"]
    list_filter = ["visibility", "is_template", "is_site_template"]
    search_fields = ["name", "description", "workspace__slug"]
    raw_id_fields = ["workspace", "created_by", "forked_from"]


@admin.register(WorkflowVersion)
class WorkflowVersionAdmin(admin.ModelAdmin):
    """Read-only: versions are immutable."""

    list_display = ["workflow", "number", "author", "created", "content_hash"]
    search_fields = ["workflow__name", "content_hash"]

    def has_change_permission(self, request: HttpRequest, obj: WorkflowVersion | None = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
