from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from backend.accounts.models import ApiToken, Invite, Membership, User, Workspace

admin.site.register(User, UserAdmin)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "kind", "created"]
    list_filter = ["kind"]
    search_fields = ["slug", "name"]
    inlines = [MembershipInline]
    raw_id_fields = ["personal_owner"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "name", "user", "created", "last_used", "revoked_at"]
    search_fields = ["prefix", "name", "user__username"]
    readonly_fields = ["prefix", "token_hash", "created", "last_used"]
    raw_id_fields = ["user"]


@admin.register(Invite)
class InviteAdmin(admin.ModelAdmin):
    list_display = ["id", "workspace", "role", "created", "expires", "used_by", "revoked_at"]
    readonly_fields = ["token_hash"]
    raw_id_fields = ["workspace", "created_by", "used_by"]
