from django.contrib import admin

from backend.cache.models import CacheRecord


@admin.register(CacheRecord)
class CacheRecordAdmin(admin.ModelAdmin):
    list_display = (
        "key",
        "node_type",
        "pack_name",
        "pack_version",
        "size",
        "hit_count",
        "last_hit",
        "created",
    )
    list_filter = ("pack_name",)
    search_fields = ("key", "node_type", "pack_name")
    ordering = ("-last_hit",)
    readonly_fields = [f.name for f in CacheRecord._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False
