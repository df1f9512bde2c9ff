"""Every write to runs that a person asks for; each runs in one transaction and tells others after commit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from django.db import connection, transaction
from django.db.models import Field
from django.utils import timezone

from backend.accounts.exceptions import ApiError
from backend.accounts.models import User, Workspace
from backend.registry.runtime import LoadedPacks, check_packs, load_packs
from backend.runs.dispatch import gpu_route
from backend.runs.graphs import PreparedGraph, flatten_subgraphs, prepare_graph
from backend.runs.models import NodeRun, Run
from backend.runs.nodes import option_sources_for_workspace
from backend.runs.publish import publish_run_status
from backend.runs.scheduling import dispatch_next
from backend.runs.signals import run_finished
from backend.workflows.models import WorkflowVersion
from workers.engine import GraphFormatError, parse_graph
from workers.engine.graph import Graph


class RunConflict(ApiError):
    """The run's current state does not allow the action (409)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, [{"field": "status", "message": message}], status_code=409)


def do_create_run(
    user: User,
    *,
    workspace: Workspace,
    workflow_version: WorkflowVersion | None = None,
    graph: Any = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    outputs: list[str] | None = None,
    priority: int = 0,
    source: str = Run.Source.API,
    rerun_of: Run | None = None,
    packs: LoadedPacks | None = None,
) -> Run:
    """Validate the graph (a workflow version's, or ``graph``) and queue a run of it; raise ``GraphRejected``.

    With both a version and ``graph``, ``graph`` is what runs and the version records where it came from (a
    rerun). The scheduler decides whether the run may start (fair use: on SQLite in the same transaction, on
    Postgres right after commit) and hands it to the dispatcher once committed. ``packs``: the workspace's packs when the caller loaded them already.
    """
    if graph is None:
        if workflow_version is None:
            raise ValueError("a run needs a workflow version or a graph")
        graph = workflow_version.graph
    graph, origins = flatten_subgraphs(graph)  # inner nodes run under path ids ("12:34")
    # Outside the transaction: the first run of a pack version builds its environment, which takes seconds.
    pinned = workflow_version.packs if workflow_version is not None else None
    if packs is None or pinned:
        packs = load_packs(workspace, pinned)
    try:
        parsed: Graph | Any = parse_graph(graph)  # once, for both checks
    except GraphFormatError:
        parsed = graph  # prepare_graph reports the shape's problems
    else:
        check_packs(workspace, packs, parsed, pinned)
    prepared = prepare_graph(
        parsed,
        packs.registry,
        overrides=overrides,
        outputs=outputs,
        option_sources=option_sources_for_workspace(workspace),
        origins=origins,
    )
    gpu = gpu_route(prepared)  # refuses a run no worker can execute
    # Inside a caller's transaction (``POST /comfy/prompt``) no savepoint: an error here fails the submit anyway,
    # and a savepoint costs two statements.
    with transaction.atomic(savepoint=False):
        return _queue_run(
            user, workspace, workflow_version, prepared, packs.versions, priority, source, rerun_of, gpu
        )


def _queue_run(
    user: User,
    workspace: Workspace,
    workflow_version: WorkflowVersion | None,
    prepared: PreparedGraph,
    packs: dict[str, str],
    priority: int,
    source: str,
    rerun_of: Run | None,
    gpu: bool,
) -> Run:
    run = Run.objects.create(
        workspace=workspace,
        workflow=workflow_version.workflow if workflow_version is not None else None,
        workflow_version=workflow_version,
        graph=prepared.graph,
        outputs=prepared.outputs,
        created_by=user,
        priority=priority,
        source=source,
        rerun_of=rerun_of,
        requires_gpu=gpu,
        packs=packs,
    )
    insert_node_runs(run, prepared.nodes)
    # The 201 answer lists them from memory (RunDetailSerializer): no second read of 500 rows.
    run.created_nodes = prepared.nodes  # type: ignore[attr-defined]  # read by RunDetailSerializer and compat.prompts
    transaction.on_commit(lambda: publish_run_status(run))
    if connection.vendor == "sqlite":
        # The submit's write transaction (one writer at a time anyway) serves the scheduler too; the chosen runs
        # go to the dispatcher once it commits.
        dispatch_next(waiting=True)
    else:
        # Postgres: the scheduler's advisory lock is held only for its own short transaction, not for the rest
        # of the submit's (concurrent submits and finishing runs would queue behind it).
        transaction.on_commit(lambda: dispatch_next(waiting=True))
    return run


def insert_node_runs(run: Run, nodes: list[tuple[str, str]], batch_size: int = 1000) -> None:
    """Insert a queued row per ``(node id, node type)`` in one statement per batch, without model instances.

    ``bulk_create`` builds and prepares a model instance per row, ~0.5 ms each: for a 500-node run more than
    the rest of the submit. Every new row has the same defaults, prepared once here.
    """
    if connection.vendor not in ("postgresql", "sqlite"):
        NodeRun.objects.bulk_create(
            [
                NodeRun(run=run, node_id=node_id, node_type=node_type, position=position)
                for position, (node_id, node_type) in enumerate(nodes)
            ],
            batch_size=batch_size,
        )
        return
    meta = NodeRun._meta

    def field(name: str) -> Field[Any, Any]:
        return cast("Field[Any, Any]", meta.get_field(name))

    defaults = {name: field(name).get_default() for name in ("status", "error", "error_type", "traceback")}
    outputs = field("outputs")
    constants = [*defaults.values(), outputs.get_db_prep_save(outputs.get_default(), connection)]
    columns = ["run_id", "node_id", "node_type", "position", *defaults, "outputs"]
    names = ", ".join(f'"{field(name).column}"' for name in columns)
    row = "(" + ", ".join(["%s"] * len(columns)) + ")"
    run_id = field("run").get_db_prep_save(run.pk, connection)  # a UUID is text on SQLite
    if connection.vendor == "postgresql":
        # Three arrays rather than 9 parameters a row: far less for psycopg and Postgres to parse.
        fixed = ", ".join(["%s"] * len(constants))
        sql = (
            f'INSERT INTO "{meta.db_table}" ({names}) SELECT %s, u.n, u.t, u.p, {fixed} '
            "FROM unnest(%s::text[], %s::text[], %s::integer[]) AS u(n, t, p)"
        )
        arrays: list[Any] = [[n for n, _ in nodes], [t for _, t in nodes], list(range(len(nodes)))]
        with connection.cursor() as cursor:
            cursor.execute(sql, [run_id, *constants, *arrays])
        return
    with connection.cursor() as cursor:
        for start in range(0, len(nodes), batch_size):
            batch = nodes[start : start + batch_size]
            params = []
            for position, (node_id, node_type) in enumerate(batch, start=start):
                params += [run_id, node_id, node_type, position, *constants]
            cursor.execute(
                f'INSERT INTO "{meta.db_table}" ({names}) VALUES {", ".join([row] * len(batch))}', params
            )


def do_cancel_run(run: Run) -> Run:
    """Cancel a queued run at once, or ask a running one to stop; raise ``RunConflict`` if it has finished."""
    # The outermost transaction (the API's and ComfyUI's cancel views): the worker is told after its commit.
    with transaction.atomic(durable=True):
        now = timezone.now()
        # A run paused for approval holds no worker: it stops at once, like a queued one.
        stopped = Run.objects.filter(
            pk=run.pk, status__in=[Run.Status.QUEUED, Run.Status.AWAITING_APPROVAL]
        ).update(
            status=Run.Status.CANCELLED,
            cancel_requested=True,
            finished=now,
            error="Cancelled before it started.",
        )
        if stopped:
            run.node_runs.filter(status__in=[NodeRun.Status.QUEUED, NodeRun.Status.AWAITING]).update(
                status=NodeRun.Status.CANCELLED, finished=now
            )
        elif not Run.objects.filter(pk=run.pk, status=Run.Status.RUNNING).update(cancel_requested=True):
            run.refresh_from_db()
            raise RunConflict(f"The run has already {run.status}; there is nothing to cancel.")
        run.refresh_from_db()
        run_id = run.pk
        if stopped:
            transaction.on_commit(lambda: publish_run_status(run))
            transaction.on_commit(dispatch_next)  # a cancelled run may have held a slot while dispatched
            transaction.on_commit(lambda: run_finished.send(sender=Run, run_id=run_id, status=run.status))
        else:
            transaction.on_commit(lambda: _tell_dispatcher_to_cancel(run_id))
    return run


def _tell_dispatcher_to_cancel(run_id: Any) -> None:
    from backend.runs.dispatch import get_dispatcher

    get_dispatcher().cancel(run_id)


def do_rerun(user: User, run: Run, *, source: str | None = None) -> Run:
    """Queue a new run of the same graph (as run, overrides included) by ``user``."""
    return do_create_run(
        user,
        workspace=run.workspace,
        workflow_version=run.workflow_version,
        graph=run.graph,
        outputs=run.outputs,
        priority=run.priority,
        source=source or run.source,
        rerun_of=run,
    )


def do_resume(user: User, run: Run, *, source: str | None = None) -> Run:
    """Run a failed, cancelled or rejected run again from where it stopped: what finished comes from the cache."""
    if run.status not in (Run.Status.FAILED, Run.Status.CANCELLED, Run.Status.REJECTED):
        raise RunConflict(
            f"Only failed or cancelled (or rejected) runs can be resumed; this run is {run.status}."
        )
    return do_rerun(user, run, source=source)


def do_delete_run(run: Run) -> None:
    """Delete a finished run with its nodes, events and outputs; blobs no one else uses are collected."""
    with transaction.atomic(durable=True):
        locked = Run.objects.select_for_update().filter(pk=run.pk).values_list("status", flat=True).first()
        if locked is None:
            return
        if locked not in Run.FINISHED:
            raise RunConflict(f"The run is {locked}; cancel it before deleting it.")
        shas = {
            sha for sha in run.run_outputs.exclude(blob_sha=None).values_list("blob_sha", flat=True) if sha
        }
        Run.objects.filter(pk=run.pk).delete()
        if shas:
            transaction.on_commit(lambda: _collect_blobs(shas))


def _collect_blobs(shas: set[str]) -> None:
    from backend.storage.references import collect_unreferenced_blobs

    collect_unreferenced_blobs(shas)
