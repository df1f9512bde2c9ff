"""Who may see and run apps (loaded through backend/accounts/access.py, the one entry point).

Members of the app's workspace see it by their role (unpublished apps: editors only); a public app is seen and
run by anyone, signed in or not (rate-limited per IP by the run action); an app key reaches its own app only, to
run it and read the runs it started. ``app.via`` says which one applied.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet
from rest_framework.exceptions import NotFound, PermissionDenied

from backend.accounts.access_base import as_role, caller_id, check_need, role_subquery
from backend.accounts.models import AnyUser, Membership
from backend.accounts.roles import Need, Role

if TYPE_CHECKING:
    from backend.flowapps.models import App, AppKey, AppRun


def visible_apps(user: AnyUser) -> QuerySet[App]:
    """Every app of the workspaces the user is a member of (unpublished ones only where they may edit)."""
    from backend.flowapps.models import App

    user_id = caller_id(user)
    if user_id is None:
        return App.objects.none()
    member = Membership.objects.filter(workspace=OuterRef("workspace"), user_id=user_id)
    editor = member.filter(role__in=[role for role in Role if role.can_edit])
    return App.objects.filter(Exists(member) & (Q(enabled=True) | Exists(editor)))


def access_app(user: AnyUser, slug: str, need: Need = Need.VIEW, *, key: AppKey | None = None) -> App:
    """Load an app by slug; ``app.role`` holds the caller's workspace role and ``app.via`` how it got in.

    ``key`` (an authenticated app key) reaches its own app only, for ``view`` and ``run``. Callers whose role
    does not allow ``run`` run a public app as the public does.
    """
    from backend.flowapps.models import App

    try:
        app = (
            App.objects.select_related("workspace", "workflow", "version", "created_by")
            .annotate(member_role=role_subquery(user, "workspace"))
            .get(slug=str(slug))
        )
    except App.DoesNotExist:
        raise NotFound("No such app.") from None
    role = as_role(app.member_role)
    app.role = role
    if key is not None:
        if key.app_id != app.pk or not app.enabled:
            raise NotFound("No such app.")
        if need not in (Need.VIEW, Need.RUN):
            raise PermissionDenied("An app key may only run its app and read the runs it started.")
        app.via = "key"
        return app
    public = app.enabled and app.is_public
    if role is not None and (app.enabled or role.can_edit):
        if need in (Need.VIEW, Need.RUN) and not role.allows(need) and public:
            app.via = "public"
            return app
        check_need(role, need, "app")
        app.via = "member"
        return app
    if public:
        check_need(Role.RUNNER, need, "app")  # the public may view and run, nothing more
        app.via = "public"
        return app
    raise NotFound("No such app.")


def access_app_run(user: AnyUser, app: App, run_id: UUID | str, *, key: AppKey | None = None) -> AppRun:
    """Load a run of ``app`` (loaded through ``access_app``) the caller may read: members every run of the app,
    a key the runs it started, the public the runs the public started (their id is the secret)."""
    from backend.flowapps.models import AppRun

    runs = AppRun.objects.select_related("run", "key").filter(app=app, run__isnull=False)
    if app.via == "key":
        runs = runs.filter(key=key)
    elif app.via == "public":
        runs = runs.filter(via=AppRun.Via.PUBLIC)
    try:
        return runs.get(run_id=run_id)
    except (AppRun.DoesNotExist, TypeError, ValueError, ValidationError):
        raise NotFound("This app has no such run.") from None
