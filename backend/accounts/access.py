"""The one way views load what a user may see.

Every loader takes the caller and an id and returns the object, or raises:

- ``NotFound`` (404) when the object is missing *or* the caller may not see it: the two look the same;
- ``PermissionDenied`` (403) when the caller may see the object but its role lacks ``need``.

Loaded objects carry the caller's role as ``obj.role`` (a ``Role`` or None), found in the same query.
New apps add their loaders here in the same shape: load with the role annotated, check visibility, check need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import CharField, Exists, OuterRef, Q, QuerySet, Subquery, Value
from rest_framework.exceptions import NotFound, PermissionDenied

from backend.accounts.models import AnyUser, Membership, Workspace
from backend.accounts.roles import Need, Role

if TYPE_CHECKING:
    from backend.flowapps.models import App, AppKey, AppRun
    from backend.registry.models import NodePack, NodePackVersion, Publisher
    from backend.runs.models import Run
    from backend.uploads.models import Upload
    from backend.workflows.models import Workflow, WorkflowVersion

__all__ = [
    "Need",
    "Role",
    "access_app",
    "access_app_run",
    "access_team",
    "access_upload",
    "access_workflow",
    "access_workflow_version",
    "access_workspace",
    "access_pack",
    "access_pack_version",
    "access_run",
    "access_run_to_manage",
    "check_need",
    "check_site_admin",
    "role_in",
    "role_subquery",
    "manageable_publishers",
    "visible_apps",
    "visible_pack_versions",
    "visible_packs",
    "visible_runs",
    "visible_uploads",
    "visible_workflows",
]


def _user_id(user: AnyUser | None) -> int | None:
    return user.pk if user is not None and user.is_authenticated else None


def role_subquery(user: AnyUser | None, workspace_ref: str = "pk") -> Subquery | Value:
    """A subquery giving ``user``'s role in the workspace at ``workspace_ref`` (an OuterRef path); NULL for an
    anonymous caller, who is no one's member."""
    user_id = _user_id(user)
    if user_id is None:
        return Value(None, output_field=CharField())
    return Subquery(
        Membership.objects.filter(workspace=OuterRef(workspace_ref), user_id=user_id).values("role")[:1]
    )


def role_in(user: AnyUser | None, workspace: Workspace | int) -> Role | None:
    """The user's role in the workspace, or None when not a member (one query)."""
    user_id = _user_id(user)
    if user_id is None:
        return None
    workspace_id = workspace.pk if isinstance(workspace, Workspace) else workspace
    role = Membership.objects.filter(workspace_id=workspace_id, user_id=user_id).values_list(
        "role", flat=True
    )
    found = role.first()
    return Role(found) if found else None


def check_need(role: Role | None, need: Need, what: str = "object") -> None:
    """Raise 403 unless ``role`` grants ``need`` (call only after the object is known to be visible)."""
    if role is None or not role.allows(need):
        raise PermissionDenied(f"Your role does not allow this action on this {what} (needs '{need}').")


def _as_role(value: str | None) -> Role | None:
    return Role(value) if value else None


def access_workspace(
    user: AnyUser, workspace_id: int | str | None, need: Need = Need.VIEW, kind: str | None = None
) -> Workspace:
    """Load a workspace the user is a member of; ``kind`` restricts to personal or team workspaces."""
    if workspace_id is None:
        raise NotFound("No such workspace.")
    queryset = Workspace.objects.annotate(member_role=role_subquery(user))
    if kind is not None:
        queryset = queryset.filter(kind=kind)
    try:
        workspace = queryset.get(pk=int(workspace_id))
    except (Workspace.DoesNotExist, TypeError, ValueError):
        raise NotFound("No such workspace.") from None
    role = _as_role(workspace.member_role)
    if role is None:
        raise NotFound("No such workspace.")
    workspace.role = role
    check_need(role, need, "workspace")
    return workspace


def access_team(user: AnyUser, team_id: int | str, need: Need = Need.VIEW) -> Workspace:
    """Load a team workspace (personal workspaces answer 404 here)."""
    try:
        return access_workspace(user, team_id, need, kind=Workspace.Kind.TEAM)
    except NotFound:
        raise NotFound("No such team.") from None


def visible_workflows(user: AnyUser) -> QuerySet[Workflow]:
    """Every workflow the user may see as a member: team-visible ones, their own, and all of it for admins."""
    from backend.workflows.models import Workflow

    user_id = _user_id(user)
    if user_id is None:
        return Workflow.objects.none()
    member = Membership.objects.filter(workspace=OuterRef("workspace"), user_id=user_id)
    sees_private = member.filter(role__in=[r for r in Role if r.can_see_private_workflows])
    return Workflow.objects.filter(
        Exists(member)
        & (Q(visibility=Workflow.Visibility.TEAM) | Q(created_by_id=user_id) | Exists(sees_private))
    )


def access_workflow(user: AnyUser, workflow_id: int | str, need: Need = Need.VIEW) -> Workflow:
    """Load a workflow the user may see; site templates are viewable (and forkable) by every signed-in user."""
    from backend.workflows.models import Workflow

    try:
        workflow = (
            Workflow.objects.select_related("workspace", "created_by", "forked_from")
            .annotate(member_role=role_subquery(user, "workspace"))
            .get(pk=int(workflow_id))
        )
    except (Workflow.DoesNotExist, TypeError, ValueError):
        raise NotFound("No such workflow.") from None
    workflow.role = _as_role(workflow.member_role)
    if not workflow.is_visible_to(user, workflow.role):
        raise NotFound("No such workflow.")
    if need == Need.VIEW:
        return workflow
    check_need(workflow.role, need, "workflow")
    return workflow


def access_workflow_version(
    user: AnyUser, workflow_id: int | str, number: int | str, need: Need = Need.VIEW
) -> WorkflowVersion:
    """Load version ``number`` of a workflow the user may see; ``version.workflow.role`` holds the role."""
    workflow = access_workflow(user, workflow_id, need)
    try:
        version = workflow.versions.get(number=int(number))
    except (ValueError, TypeError, workflow.versions.model.DoesNotExist):
        raise NotFound(f"Workflow {workflow.pk} has no version {number}.") from None
    version.workflow = workflow
    return version


# Runs. A run is visible to the members of its workspace who may see its workflow (raw-graph runs, which have
# no workflow, to every member); ``need`` is checked against the caller's role in the run's workspace.


def visible_runs(user: AnyUser) -> QuerySet[Run]:
    """Every run the user may see: in workspaces they belong to, of workflows they may see (or of none)."""
    from backend.runs.models import Run
    from backend.workflows.models import Workflow

    user_id = _user_id(user)
    if user_id is None:
        return Run.objects.none()
    member = Membership.objects.filter(workspace=OuterRef("workspace"), user_id=user_id)
    sees_private = member.filter(role__in=[r for r in Role if r.can_see_private_workflows])
    return Run.objects.filter(
        Exists(member)
        & (
            Q(workflow__isnull=True)
            | Q(workflow__visibility=Workflow.Visibility.TEAM)
            | Q(workflow__created_by_id=user_id)
            | Exists(sees_private)
        )
    )


def access_run(user: AnyUser, run_id: UUID | str, need: Need = Need.VIEW, *, graphs: bool = True) -> Run:
    """Load a run the user may see; ``run.role`` holds the caller's role in its workspace.

    ``graphs=False`` leaves the run's graph and its version's graph and layout unread (read later if used):
    a websocket handshake needs only the access decision, and a 500-node graph is two large JSON decodes.
    """
    from backend.runs.models import Run

    runs = Run.objects.select_related("workspace", "workflow", "workflow_version", "created_by")
    if not graphs:
        runs = runs.defer("graph", "workflow_version__graph", "workflow_version__layout")
    try:
        run = runs.annotate(member_role=role_subquery(user, "workspace")).get(pk=run_id)
    except (Run.DoesNotExist, TypeError, ValueError, ValidationError):
        raise NotFound("No such run.") from None
    role = _as_role(run.member_role)
    # Temporary: Run declares ``role`` once backend/runs is type-checked (pyproject's mypy override says why).
    run.role = role  # type: ignore[attr-defined]
    if role is None or (run.workflow is not None and not run.workflow.is_visible_to(user, role)):
        raise NotFound("No such run.")
    check_need(role, need, "run")
    return run


def access_run_to_manage(user: AnyUser, run_id: UUID | str) -> Run:
    """Load a run the user may cancel or delete: their own run (needs ``run``), anyone's (needs ``edit``)."""
    run = access_run(user, run_id, Need.RUN)
    if run.created_by_id != _user_id(user):
        check_need(run.role, Need.EDIT, "run started by someone else")  # type: ignore[attr-defined]
    return run


def visible_uploads(user: AnyUser) -> QuerySet[Upload]:
    """Every upload in a workspace the user is a member of (uploads have no finer visibility)."""
    from backend.uploads.models import Upload

    user_id = _user_id(user)
    if user_id is None:
        return Upload.objects.none()
    return Upload.objects.filter(
        Exists(Membership.objects.filter(workspace=OuterRef("workspace"), user_id=user_id))
    )


def access_upload(user: AnyUser, upload_id: int | str, need: Need = Need.VIEW) -> Upload:
    """Load an upload of a workspace the user is a member of; ``upload.role`` holds the role."""
    from backend.uploads.models import Upload

    try:
        upload = (
            Upload.objects.select_related("created_by")
            .annotate(member_role=role_subquery(user, "workspace"))
            .get(pk=int(upload_id))
        )
    except (Upload.DoesNotExist, TypeError, ValueError):
        raise NotFound("No such upload.") from None
    role = _as_role(upload.member_role)
    if role is None:
        raise NotFound("No such upload.")
    upload.role = role
    check_need(role, need, "upload")
    return upload


# Node packs (backend/registry). A publisher is managed by its user, or by its team's owner and admins; site
# admins see every pack and version (they review). Others see a pack only once it has an active version, and
# then per its visibility: public (every signed-in user), team (members of the publisher's team), private
# (managers only). Non-managers see only active versions (yanked ones included, marked as such).


def _publisher_managers(user_id: int, prefix: str = "") -> Q:
    admins = [role for role in Role if role.allows(Need.ADMIN)]
    admin_of_team = Membership.objects.filter(
        workspace=OuterRef(f"{prefix}workspace"), user_id=user_id, role__in=admins
    )
    return Q(**{f"{prefix}user_id": user_id}) | Q(Exists(admin_of_team))


def manageable_publishers(user: AnyUser) -> QuerySet[Publisher]:
    """Publishers the user may publish to and manage: their own, and those of teams they own or administer."""
    from backend.registry.models import Publisher

    user_id = _user_id(user)
    if user_id is None:
        return Publisher.objects.none()
    return Publisher.objects.filter(_publisher_managers(user_id))


def _is_site_admin(user: AnyUser | None) -> bool:
    return bool(user is not None and user.is_authenticated and getattr(user, "is_site_admin", False))


def check_site_admin(user: AnyUser, action: str) -> None:
    """Raise 403 unless the user is a site admin; ``action`` says what was refused (site-wide things, such as
    the model library, have no workspace role to check)."""
    if not _is_site_admin(user):
        raise PermissionDenied(f"Only site admins may {action}.")


def visible_packs(user: AnyUser) -> QuerySet[NodePack]:
    """Every pack the user may see, each annotated with ``can_manage`` (the caller may publish to it)."""
    from django.db.models import BooleanField, ExpressionWrapper

    from backend.registry.models import NodePack, NodePackVersion

    user_id = _user_id(user)
    if user_id is None:
        return NodePack.objects.none()
    manages = _publisher_managers(user_id, "publisher__")
    # django-stubs refuses to annotate over NodePack's type-only ``can_manage`` declaration (which is what lets
    # ``version.pack.can_manage`` type-check); Django itself refuses only field names.
    packs = NodePack.objects.annotate(
        can_manage=ExpressionWrapper(manages, output_field=BooleanField())  # type: ignore[no-redef]
    ).select_related("publisher")
    if _is_site_admin(user):
        return packs
    active = NodePackVersion.objects.filter(pack=OuterRef("pk"), status=NodePackVersion.Status.ACTIVE)
    team_member = Membership.objects.filter(workspace=OuterRef("publisher__workspace"), user_id=user_id)
    return packs.filter(
        manages
        | Q(Exists(active))
        & (
            Q(visibility=NodePack.Visibility.PUBLIC)
            | Q(visibility=NodePack.Visibility.TEAM)
            & (Q(Exists(team_member)) | Q(publisher__user_id=user_id))
        )
    )


def access_pack(user: AnyUser, name: str, manage: bool = False) -> NodePack:
    """Load a pack the user may see by name; ``manage=True`` also needs publisher rights (else 403).

    ``pack.can_manage`` tells whether the caller may publish to, yank and deprecate the pack; site admins see
    everything but manage only their own packs (they review through the review endpoints).
    """
    from backend.registry.models import NodePack

    try:
        pack = visible_packs(user).get(name=str(name))
    except NodePack.DoesNotExist:
        raise NotFound("No such node pack.") from None
    if manage and not pack.can_manage:
        raise PermissionDenied(
            "Only the pack's publisher (its user, or its team's owner and admins) may do this."
        )
    return pack


def visible_pack_versions(user: AnyUser, pack: NodePack) -> QuerySet[NodePackVersion]:
    """The versions of ``pack`` (loaded through ``access_pack``) the user may see."""
    from backend.registry.models import NodePackVersion

    versions = pack.versions.all()
    if pack.can_manage or _is_site_admin(user):
        return versions
    return versions.filter(status=NodePackVersion.Status.ACTIVE)


def access_pack_version(
    user: AnyUser,
    version_id: int | str | None = None,
    *,
    pack_name: str | None = None,
    version: str | None = None,
    manage: bool = False,
) -> NodePackVersion:
    """Load a pack version by id, or by pack name and version string; ``version.pack`` carries ``can_manage``.

    Missing, of an invisible pack, or not active (for anyone but its publisher and site admins): 404.
    """
    from backend.registry.models import NodePackVersion

    try:
        if version_id is not None:
            pack_name = NodePackVersion.objects.values_list("pack__name", flat=True).get(pk=int(version_id))
        if pack_name is None:
            raise NotFound("No such node pack.")
        pack = access_pack(user, pack_name)
        query: dict[str, object] = (
            {"pk": int(version_id)} if version_id is not None else {"version": str(version)}
        )
        found = visible_pack_versions(user, pack).get(**query)
    except (NodePackVersion.DoesNotExist, TypeError, ValueError):
        raise NotFound("No such pack version.") from None
    found.pack = pack
    if manage and not pack.can_manage:
        raise PermissionDenied(
            "Only the pack's publisher (its user, or its team's owner and admins) may do this."
        )
    return found


# Apps (backend/flowapps). Members of the app's workspace see it by their role (unpublished apps: editors
# only); a public app is seen and run by anyone, signed in or not (rate-limited per IP by the run action); an
# app key reaches its own app only, to run it and read the runs it started. ``app.via`` says which one applied.


def visible_apps(user: AnyUser) -> QuerySet[App]:
    """Every app of the workspaces the user is a member of (unpublished ones only where they may edit)."""
    from backend.flowapps.models import App

    user_id = _user_id(user)
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
    role = _as_role(app.member_role)
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


# Automation (backend/automation): a workflow's webhooks, triggers and schedules are managed by those who may
# edit the workflow (they hold secrets and start runs as their owner); a workspace-wide webhook by its admins.


def _access_automation(model: Any, user: AnyUser, object_id: UUID | str, need: Need, what: str) -> Any:
    try:
        found = (
            model.objects.select_related("workflow", "workflow__workspace")
            .annotate(member_role=role_subquery(user, "workflow__workspace"))
            .get(pk=object_id)
        )
    except (model.DoesNotExist, TypeError, ValueError, ValidationError):
        raise NotFound(f"No such {what}.") from None
    role = _as_role(found.member_role)
    if role is None or not found.workflow.is_visible_to(user, role):
        raise NotFound(f"No such {what}.")
    found.role = role
    found.workflow.role = role
    check_need(role, need, what)
    return found


def access_webhook(user: AnyUser, webhook_id: UUID | str, need: Need = Need.EDIT) -> Webhook:
    """Load a webhook: a workflow's needs ``need`` on the workflow, a workspace-wide one ``admin`` there."""
    from backend.automation.models import Webhook

    try:
        webhook = (
            Webhook.objects.select_related("workspace", "workflow")
            .annotate(member_role=role_subquery(user, "workspace"))
            .get(pk=webhook_id)
        )
    except (Webhook.DoesNotExist, TypeError, ValueError, ValidationError):
        raise NotFound("No such webhook.") from None
    role = _as_role(webhook.member_role)
    if role is None or (webhook.workflow is not None and not webhook.workflow.is_visible_to(user, role)):
        raise NotFound("No such webhook.")
    webhook.role = role
    check_need(role, need if webhook.workflow is not None else Need.ADMIN, "webhook")
    return webhook


def access_trigger(user: AnyUser, trigger_id: UUID | str, need: Need = Need.EDIT) -> Trigger:
    """Load a workflow's trigger to manage it (``need`` on the workflow)."""
    from backend.automation.models import Trigger

    return _access_automation(Trigger, user, trigger_id, need, "trigger")


def access_schedule(user: AnyUser, schedule_id: UUID | str, need: Need = Need.EDIT) -> Schedule:
    """Load a workflow's schedule to manage it (``need`` on the workflow)."""
    from backend.automation.models import Schedule

    return _access_automation(Schedule, user, schedule_id, need, "schedule")


if TYPE_CHECKING:
    from typing import Any

    from backend.automation.models import Schedule, Trigger, Webhook


# Approvals (backend/approvals). Whoever may see a run sees its approvals; deciding one takes being one of its
# approvers (a workspace role at least as high as the one named, or a named member): other members get 403,
# and who cannot see the run gets 404.


def access_approval(
    user: AnyUser, run_id: UUID | str, approval_id: int | str, *, decide: bool = False
) -> Approval:
    """Load an approval of a run the user may see; ``decide=True`` also requires the user to be an approver."""
    from backend.approvals.models import Approval

    run = access_run(user, run_id, Need.VIEW, graphs=False)
    try:
        approval = Approval.objects.select_related("decided_by").get(pk=int(approval_id), run=run)
    except (Approval.DoesNotExist, TypeError, ValueError):
        raise NotFound("No such approval.") from None
    approval.run = run
    approval.caller_approves = approval.approves(user, run.role)  # type: ignore[attr-defined]
    if decide and not approval.caller_approves:
        raise PermissionDenied(
            f"Only the approvers of this step may decide it ({approval.approvers_text()})."
        )
    return approval


def approvals_for(user: AnyUser, run: Run) -> list[Approval]:
    """The approvals of a run loaded with ``access_run``, each knowing whether ``user`` approves it."""
    approvals = list(run.approvals.select_related("decided_by").order_by("requested", "id"))
    for approval in approvals:
        approval.run = run
        approval.caller_approves = approval.approves(user, run.role)  # type: ignore[attr-defined]
    return approvals


def visible_approvals(user: AnyUser, *, pending: bool = False, limit: int = 200) -> list[Approval]:
    """The approvals of the runs the user may see, newest first (at most ``limit``); ``pending``: only those the
    user may decide now."""
    from backend.approvals.models import Approval
    from backend.runs.models import Run

    user_id = _user_id(user)
    if user_id is None:
        return []
    approvals = Approval.objects.filter(run__in=visible_runs(user)).select_related(
        "run", "run__workflow", "decided_by"
    )
    if pending:
        approvals = approvals.filter(decision="", run__status=Run.Status.AWAITING_APPROVAL)
    roles = dict(Membership.objects.filter(user_id=user_id).values_list("workspace_id", "role"))
    found = []
    # Pending ones are few (runs paused now) and filtered here by approver; the others are cut in the query.
    for approval in approvals.order_by("-requested", "-id")[: None if pending else limit]:
        approval.caller_approves = approval.approves(user, _as_role(roles.get(approval.run.workspace_id)))
        if approval.caller_approves or not pending:
            found.append(approval)
    return found[:limit]


if TYPE_CHECKING:
    from backend.approvals.models import Approval
