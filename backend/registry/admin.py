from django.contrib import admin
from django.http import HttpRequest

from backend.registry.models import NodePack, NodePackVersion, Publisher, TeamPackInstall


@admin.register(Publisher)
class PublisherAdmin(admin.ModelAdmin):
    list_display = ["slug", "display_name", "user", "workspace", "trusted", "created"]
    list_filter = ["trusted"]
    search_fields = ["slug", "display_name"]


@admin.register(NodePack)
class NodePackAdmin(admin.ModelAdmin):
    list_display = ["name", "publisher", "visibility", "downloads", "installs", "updated"]
    list_filter = ["visibility"]
    search_fields = ["name", "display_name"]


@admin.register(NodePackVersion)
class NodePackVersionAdmin(admin.ModelAdmin):
    # Read-only: versions change only through the review and publisher actions (the API).
    list_display = ["pack", "version", "status", "yanked", "created"]
    list_filter = ["status", "yanked"]
    search_fields = ["pack__name"]

    def has_change_permission(self, request: HttpRequest, obj: NodePackVersion | None = None) -> bool:
        return False


@admin.register(TeamPackInstall)
class TeamPackInstallAdmin(admin.ModelAdmin):
    list_display = ["workspace", "pack", "version", "installed_by", "updated"]
