"""Fair use: which waiting runs may start now. The one place that decides it.

A user may have ``FLOWYARD_MAX_RUNNING_PER_USER`` runs and a workspace ``FLOWYARD_MAX_RUNNING_PER_WORKSPACE``
runs (times its weight in ``FLOWYARD_WORKSPACE_WEIGHTS``) holding a slot at once; a run holds a slot from the
moment it is handed to the dispatcher (``dispatched``) until it finishes. ``dispatch_next()`` is called after a
run is created, cancelled or finishes: it walks the waiting runs, highest priority then oldest first, and hands
over every one whose user and workspace have a free slot, so one user's long queue never blocks another user's
run.

The limits are for sharing, so they apply only under contention. When every run still waiting belongs to one
user (nobody else is waiting), that user's runs also take the workers' free capacity (the dispatcher's
``capacity()``: threads of the embedded dispatcher, the concurrency of the live Celery workers): a lone burst
runs at the speed of the workers, not of the limits. It borrows only what is idle, so a run submitted later by
someone else waits for one run to end at most, and from then on the limits decide. A limit of 0 holds runs
(nothing borrows); ``FLOWYARD_LEND_IDLE_WORKERS`` off makes the limits hold always.

Concurrency: two schedulers deciding at once could each see a free slot and together exceed it, so deciding is
serialised: on Postgres with a transaction-level advisory lock (rows being changed by someone else are skipped
with ``SKIP LOCKED``), elsewhere (SQLite, one process) by the write transaction plus a process-wide lock.
"""

from __future__ import annotations

import functools
import logging
import threading
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import BooleanField, Count, ExpressionWrapper, Q
from django.utils import timezone

from backend.runs.models import Run

logger = logging.getLogger(__name__)

# pg_advisory_xact_lock key: any constant shared by every process of the installation.
SCHEDULER_LOCK_KEY = 0x466C7952  # "FlyR"
CANDIDATES_PER_PAGE = 50

_local_lock = threading.Lock()


def dispatch_next(waiting: bool = False) -> list[uuid.UUID]:
    """Hand the waiting runs that fit within the limits to the dispatcher (after commit); return their ids.
    ``waiting``: the caller knows a run waits (it just queued one), so the pass does not ask first."""
    if not waiting and not _any_waiting():
        return []
    with _serialised():
        chosen = _choose()
    if chosen:
        transaction.on_commit(lambda: _submit(chosen))
    return list(chosen)


def _any_waiting() -> bool:
    """Whether a run waits for a slot: one indexed read, without the scheduler's transaction and lock, so that
    a run ending while nothing waits (most runs) costs that read alone.

    A run that starts waiting after this read cannot be missed: the pass its own submit (or re-queue) makes
    after committing it reads, under the lock, what every caller of this one committed before calling, so it
    sees the slot this caller freed. A caller inside a transaction reads its own writes here.
    """
    with connection.cursor() as cursor:
        cursor.execute(*_any_waiting_sql(connection.vendor))
        return cursor.fetchone() is not None


@functools.cache
def _any_waiting_sql(vendor: str) -> tuple[str, tuple[Any, ...]]:
    query = (
        Run.objects.filter(status=Run.Status.QUEUED, dispatched__isnull=True).order_by().values_list("id")[:1]
    )
    sql, params = query.query.sql_with_params()
    return sql, tuple(params)


@contextmanager
def _serialised() -> Iterator[None]:
    if connection.vendor == "postgresql":
        # Not durable: a submit schedules its own run inside its transaction (POST /comfy/prompt's, do_create_run),
        # and the lock is held until that commits.
        outermost = not connection.in_atomic_block
        with transaction.atomic():
            with connection.cursor() as cursor:
                if outermost:
                    # Its own transaction writes only ``dispatched``, which a crash may lose without harm: the run
                    # stays queued, is dispatched again, and the worker's claim makes a second message a no-op.
                    # So it commits without waiting for the WAL's flush to disk (a submit's own transaction, which
                    # stores the run, still waits).
                    cursor.execute("SET LOCAL synchronous_commit TO OFF")
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SCHEDULER_LOCK_KEY])
            yield
    else:
        # The transaction first: on SQLite it is the write turn (backend/core/sqlite), which a submit already
        # holds when it schedules its own run; taking the locks in one order everywhere cannot deadlock.
        # No savepoint inside the submit's transaction: an error in deciding fails the submit anyway.
        with transaction.atomic(savepoint=False), _local_lock:
            yield


def _choose() -> dict[uuid.UUID, bool]:
    """Take, in order, the waiting runs whose user and workspace have a free slot: their ids, each with whether
    it requires a GPU (where the dispatcher sends it).

    A pass costs in proportion to what it dispatches, not to the queue. One grouped query counts, per user and
    workspace, the runs holding a slot and the runs waiting (the database counts; no row comes back per run).
    Waiting runs are then read a page at a time, and only those of users and workspaces with a free slot: a held
    back run's user (or workspace) is full, so its other runs are not read again in this pass. While every user
    with waiting runs is full (a burst), a pass is that one query. (Before, a pass read up to 1,000 waiting runs,
    at every submit and every finish.)
    """
    per_user_limit: int = settings.FLOWYARD_MAX_RUNNING_PER_USER
    per_workspace_limit: int = settings.FLOWYARD_MAX_RUNNING_PER_WORKSPACE
    per_user: Counter[int | None] = Counter()  # slots held
    per_workspace: Counter[int] = Counter()
    waiting_per_user: Counter[int | None] = Counter()
    waiting_workspaces: set[int] = set()
    for user_id, workspace_id, waiting, count in _counts():
        if waiting:
            waiting_per_user[user_id] += count
            waiting_workspaces.add(workspace_id)
        else:
            per_user[user_id] += count
            per_workspace[workspace_id] += count
    if not waiting_per_user:
        return {}  # the runs seen waiting were taken by another pass meanwhile
    held = sum(per_workspace.values())
    workspace_limits = _workspace_limits(waiting_workspaces)
    full_users = {
        user_id for user_id in waiting_per_user if user_id is not None and per_user[user_id] >= per_user_limit
    }
    full_workspaces = {
        workspace_id
        for workspace_id in waiting_workspaces
        if per_workspace[workspace_id] >= workspace_limits.get(workspace_id, per_workspace_limit)
    }
    chosen: dict[uuid.UUID, bool] = {}
    chosen_per_user: Counter[int | None] = Counter()
    if (
        any(user_id not in full_users for user_id in waiting_per_user)
        and waiting_workspaces - full_workspaces
    ):
        page = _waiting_page(full_users, full_workspaces, chosen)
        while page:
            for run_id, user_id, workspace_id, requires_gpu in page:
                if per_workspace[workspace_id] >= workspace_limits.get(workspace_id, per_workspace_limit):
                    full_workspaces.add(workspace_id)
                elif user_id is not None and per_user[user_id] >= per_user_limit:
                    full_users.add(user_id)
                else:
                    per_user[user_id] += 1
                    per_workspace[workspace_id] += 1
                    chosen_per_user[user_id] += 1
                    chosen[run_id] = requires_gpu
            if len(page) < CANDIDATES_PER_PAGE:
                break  # the last page: every waiting run that could start has been seen
            # Every run of the page was taken or held back, and a held back run's user or workspace is full now.
            page = _waiting_page(full_users, full_workspaces, chosen)
    still_waiting = {
        user_id for user_id, count in waiting_per_user.items() if count > chosen_per_user[user_id]
    }
    chosen.update(
        _borrow_idle_capacity(still_waiting, chosen, held + len(chosen), per_user_limit, per_workspace_limit)
    )
    if chosen:
        _mark_dispatched(list(chosen))
    return chosen


def _mark_dispatched(run_ids: list[uuid.UUID]) -> None:
    """``dispatched = now`` on the chosen runs still waiting, by SQL written once per vendor and count (the
    ORM's compile of the update cost more than running it, at every pass that chose a run)."""
    sql = _mark_dispatched_sql(connection.vendor, len(run_ids))
    stamp = Run._meta.get_field("dispatched").get_db_prep_value(timezone.now(), connection)
    pk = Run._meta.pk
    assert pk is not None
    params = [stamp, Run.Status.QUEUED, *(pk.get_db_prep_value(run_id, connection) for run_id in run_ids)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@functools.lru_cache(maxsize=64)
def _mark_dispatched_sql(vendor: str, runs: int) -> str:
    q = connection.ops.quote_name
    marks = ", ".join(["%s"] * runs)
    return (
        f"UPDATE {q(Run._meta.db_table)} SET {q('dispatched')} = %s "
        f"WHERE {q('status')} = %s AND {q('dispatched')} IS NULL AND {q('id')} IN ({marks})"
    )


def _counts() -> list[tuple[int | None, int, bool, int]]:
    """``(user id, workspace id, waiting, runs)``: how many runs each user has in each workspace that hold a slot
    (running, or handed to the dispatcher) and that wait for one; in one query, counted by the database."""
    with connection.cursor() as cursor:
        cursor.execute(*_counts_sql(connection.vendor))
        rows = cursor.fetchall()
    return [
        (user_id, workspace_id, bool(is_waiting), runs) for user_id, workspace_id, is_waiting, runs in rows
    ]


@functools.cache
def _counts_sql(vendor: str) -> tuple[str, tuple[Any, ...]]:
    """The SQL of ``_counts`` (it has no parameter but the statuses): compiled by the ORM once per process, not
    at every pass (building the query cost more than running it)."""
    waiting = ExpressionWrapper(
        Q(status=Run.Status.QUEUED, dispatched__isnull=True), output_field=BooleanField()
    )
    query = (
        Run.objects.filter(status__in=[Run.Status.QUEUED, Run.Status.RUNNING])
        .values("created_by_id", "workspace_id", is_waiting=waiting)
        .annotate(runs=Count("id"))
        .order_by()
        .values_list("created_by_id", "workspace_id", "is_waiting", "runs")
    )
    sql, params = query.query.sql_with_params()
    return sql, tuple(params)


def _waiting_page(
    full_users: set[int], full_workspaces: set[int], chosen: Iterable[uuid.UUID]
) -> list[tuple[uuid.UUID, int | None, int, bool]]:
    """The next ``CANDIDATES_PER_PAGE`` waiting runs in dispatch order (highest priority, then oldest), leaving
    out those of full users and workspaces and those chosen already: ``(id, user id, workspace id, requires
    GPU)``."""
    chosen = list(chosen)
    users, workspaces = sorted(full_users), sorted(full_workspaces)
    sql, slots = _waiting_page_sql(connection.vendor, len(users), len(workspaces), len(chosen))
    pk = Run._meta.pk
    assert pk is not None
    given: dict[str, list[Any]] = {
        "user": users,
        "workspace": workspaces,
        "chosen": [pk.get_db_prep_value(run_id, connection) for run_id in chosen],
    }
    params = [value if kind == "constant" else given[kind][index] for kind, index, value in slots]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [
        (run_id if isinstance(run_id, uuid.UUID) else uuid.UUID(run_id), user_id, workspace_id, bool(gpu))
        for run_id, user_id, workspace_id, gpu in rows
    ]


# The page's SQL per shape (how many users, workspaces and runs it leaves out), compiled by the ORM once: building
# the query cost more than running it, at every run's end during a burst. A slot says where each parameter comes
# from: ("constant", 0, value), or (kind, index, None) for the index-th user, workspace or chosen run.
_Slot = tuple[str, int, Any]


@functools.lru_cache(maxsize=256)
def _waiting_page_sql(vendor: str, users: int, workspaces: int, chosen: int) -> tuple[str, tuple[_Slot, ...]]:
    marks: dict[Any, tuple[str, int]] = {}
    user_marks = [-1_000_001 - index for index in range(users)]
    workspace_marks = [-2_000_001 - index for index in range(workspaces)]
    chosen_marks = [uuid.UUID(int=0x5C4ED_0000 + index) for index in range(chosen)]
    marks.update({mark: ("user", index) for index, mark in enumerate(user_marks)})
    marks.update({mark: ("workspace", index) for index, mark in enumerate(workspace_marks)})
    pk = Run._meta.pk
    assert pk is not None
    for index, mark in enumerate(chosen_marks):
        marks[pk.get_db_prep_value(mark, connection)] = ("chosen", index)
    waiting = Run.objects.filter(status=Run.Status.QUEUED, dispatched__isnull=True)
    if user_marks:
        waiting = waiting.exclude(created_by_id__in=user_marks)
    if workspace_marks:
        waiting = waiting.exclude(workspace_id__in=workspace_marks)
    if chosen_marks:
        waiting = waiting.exclude(pk__in=chosen_marks)
    waiting = waiting.order_by("-priority", "created", "id")
    if connection.features.has_select_for_update_skip_locked:
        waiting = waiting.select_for_update(skip_locked=True)
    query = waiting.values_list("id", "created_by_id", "workspace_id", "requires_gpu")[:CANDIDATES_PER_PAGE]
    sql, params = query.query.sql_with_params()
    slots: list[_Slot] = []
    for value in params:
        found = marks.get(value) if isinstance(value, int | str | uuid.UUID) else None
        slots.append((found[0], found[1], None) if found is not None else ("constant", 0, value))
    assert sum(kind != "constant" for kind, _, _ in slots) == users + workspaces + chosen, sql
    return sql, tuple(slots)


def _borrow_idle_capacity(
    still_waiting: set[int | None],
    chosen: dict[uuid.UUID, bool],
    held: int,
    per_user_limit: int,
    per_workspace_limit: int,
) -> dict[uuid.UUID, bool]:
    """The runs held back by the limits that may take idle workers: all of one user's when nobody else waits
    (``still_waiting``: the users with runs left waiting; see the module docstring), as many as the workers have
    free slots; none under contention."""
    if not still_waiting or per_user_limit <= 0 or per_workspace_limit <= 0:
        return {}
    if not settings.FLOWYARD_LEND_IDLE_WORKERS:
        return {}
    if len(still_waiting) > 1 or None in still_waiting:
        return {}  # contention: the limits share the workers
    from backend.runs.dispatch import get_dispatcher

    capacity = getattr(get_dispatcher(), "capacity", lambda: None)()
    if capacity is None or capacity <= held:
        return {}
    borrowed: dict[uuid.UUID, bool] = {}
    while len(borrowed) < capacity - held:
        page = _waiting_page(set(), set(), [*chosen, *borrowed])
        for run_id, _, _, requires_gpu in page[: capacity - held - len(borrowed)]:
            borrowed[run_id] = requires_gpu
        if len(page) < CANDIDATES_PER_PAGE:
            break
    return borrowed


def _workspace_limits(workspace_ids: set[int]) -> dict[int, int]:
    """The workspace limit of those of ``workspace_ids`` that ``FLOWYARD_WORKSPACE_WEIGHTS`` weighs (by slug)."""
    weights: dict[str, float] = settings.FLOWYARD_WORKSPACE_WEIGHTS
    if not weights:
        return {}
    from backend.accounts.models import Workspace

    base = settings.FLOWYARD_MAX_RUNNING_PER_WORKSPACE
    found = Workspace.objects.filter(pk__in=workspace_ids, slug__in=list(weights)).values_list("pk", "slug")
    return {pk: max(0, round(base * weights[slug])) for pk, slug in found}


def _submit(runs: dict[uuid.UUID, bool]) -> None:
    from backend.runs.dispatch import get_dispatcher

    dispatcher = get_dispatcher()
    for run_id, requires_gpu in runs.items():
        try:
            dispatcher.submit(run_id, requires_gpu=requires_gpu)
        except Exception:
            # Give the slot back: a run nobody will execute must not hold it forever.
            logger.exception("could not dispatch run %s; it stays queued", run_id)
            Run.objects.filter(pk=run_id, status=Run.Status.QUEUED).update(dispatched=None)
