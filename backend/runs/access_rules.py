"""Who may see, start and manage runs (loaded through backend/accounts/access.py, the one entry point).

A run is visible to the members of its workspace who may see its workflow (raw-graph runs, which have no
workflow, to every member); ``need`` is checked against the caller's role in the run's workspace.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import QuerySet
from rest_framework.exceptions import NotFound

from backend.accounts.access_base import access_workspace, as_role, caller_id, check_need, role_subquery
from backend.accounts.models import AnyUser, Workspace
from backend.accounts.roles import Need
from backend.workflows.access_rules import access_workflow, access_workflow_version, member_sees_workflow

if TYPE_CHECKING:
    from backend.runs.models import Run
    from backend.workflows.models import WorkflowVersion


def visible_runs(user: AnyUser) -> QuerySet[Run]:
    """Every run the user may see: in workspaces they belong to, of workflows they may see (or of none)."""
    from backend.runs.models import Run

    user_id = caller_id(user)
    if user_id is None:
        return Run.objects.none()
    return Run.objects.filter(member_sees_workflow(user_id, "workflow__", or_none=True))


def sees_run(user: AnyUser, run_id: UUID | str) -> bool:
    """Whether the user may see the run: ``visible_runs``'s rule, for one run, as a yes or no.

    For callers that need only the decision many times a second (a ComfyUI socket taking up each new prompt
    of a burst): one indexed query whose SQL is built once per user and vendor, instead of ``access_run``'s
    load of the run, its workspace, workflow, version and creator with the role (an ORM compile of ~1 ms).
    """
    user_id = caller_id(user)
    if user_id is None:
        return False
    try:
        key = run_id if isinstance(run_id, UUID) else UUID(str(run_id))
    except ValueError:
        return False
    sql, params, at = _sees_run_sql(connection.vendor, user_id)
    from backend.runs.models import Run

    params[at] = Run._meta.pk.get_db_prep_value(key, connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() is not None


_SENTINEL = UUID(int=0x5E17)


@functools.lru_cache(maxsize=1024)
def _sees_run_sql_cached(vendor: str, user_id: int) -> tuple[str, tuple[Any, ...], int]:
    from backend.runs.models import Run

    query = Run.objects.filter(member_sees_workflow(user_id, "workflow__", or_none=True), pk=_SENTINEL)
    sql, params = query.values("pk")[:1].query.sql_with_params()
    sentinel = Run._meta.pk.get_db_prep_value(_SENTINEL, connection)
    (at,) = [index for index, value in enumerate(params) if value == sentinel]
    return sql, tuple(params), at


def _sees_run_sql(vendor: str, user_id: int) -> tuple[str, list[Any], int]:
    """``sees_run``'s SQL for the user, its parameters (a fresh list) and where the run's id goes in them."""
    sql, params, at = _sees_run_sql_cached(vendor, user_id)
    return sql, list(params), at


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
    role = as_role(run.member_role)
    # Temporary: Run declares ``role`` once backend/runs is type-checked (pyproject's mypy override says why).
    run.role = role  # type: ignore[attr-defined]
    if role is None or (run.workflow is not None and not run.workflow.is_visible_to(user, role)):
        raise NotFound("No such run.")
    check_need(role, need, "run")
    return run


def access_run_to_manage(user: AnyUser, run_id: UUID | str) -> Run:
    """Load a run the user may cancel or delete: their own run (needs ``run``), anyone's (needs ``edit``)."""
    run = access_run(user, run_id, Need.RUN)
    if run.created_by_id != caller_id(user):
        check_need(run.role, Need.EDIT, "run started by someone else")  # type: ignore[attr-defined]
    return run


def access_run_target(
    user: AnyUser,
    *,
    workflow_id: int | str | None = None,
    number: int | str | None = None,
    workspace_id: int | str | None = None,
) -> tuple[Workspace, WorkflowVersion | None]:
    """Where a new run goes and what it runs: version ``number`` of a workflow the caller may run (its latest
    saved version when ``number`` is None) in the workflow's workspace, or, without a workflow (a raw graph),
    the workspace ``workspace_id`` where the caller needs ``run``."""
    if workflow_id is None:
        return access_workspace(user, workspace_id, Need.RUN), None
    if number is not None:
        version = access_workflow_version(user, workflow_id, number, Need.RUN)
    else:
        workflow = access_workflow(user, workflow_id, Need.RUN)
        latest = workflow.latest_version()
        if latest is None:
            raise NotFound(f"Workflow {workflow.pk} has no saved version.")
        latest.workflow = workflow
        version = latest
    return version.workflow.workspace, version
