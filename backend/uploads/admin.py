from django.contrib import admin
from django.http import HttpRequest

from backend.uploads.models import Thumbnail, Upload


@admin.register(Upload)
class UploadAdmin(admin.ModelAdmin):
    """Names and metadata; the bytes are changed only through the API (content is addressed by sha256)."""

    list_display = ["name", "workspace", "kind", "content_type", "size", "created_by", "created"]
    list_filter = ["kind", "content_type"]
    search_fields = ["name", "sha256", "workspace__slug"]
    raw_id_fields = ["workspace", "created_by"]
    readonly_fields = ["sha256", "size", "content_type", "kind", "width", "height", "created", "updated"]


@admin.register(Thumbnail)
class ThumbnailAdmin(admin.ModelAdmin):
    list_display = ["source_sha", "size", "sha256", "created"]
    search_fields = ["source_sha", "sha256"]

    def has_change_permission(self, request: HttpRequest, obj: Thumbnail | None = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
