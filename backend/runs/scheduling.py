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

import logging
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from backend.runs.models import Run

logger = logging.getLogger(__name__)

# pg_advisory_xact_lock key: any constant shared by every process of the installation.
SCHEDULER_LOCK_KEY = 0x466C7952  # "FlyR"
CANDIDATES_PER_PAGE = 50

_local_lock = threading.Lock()


def dispatch_next() -> list[uuid.UUID]:
    """Hand the waiting runs that fit within the limits to the dispatcher (after commit); return their ids."""
    with _serialised():
        chosen = _choose()
    if chosen:
        transaction.on_commit(lambda: _submit(chosen))
    return chosen


@contextmanager
def _serialised() -> Iterator[None]:
    if connection.vendor == "postgresql":
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SCHEDULER_LOCK_KEY])
            yield
    else:
        # The transaction first: on SQLite it is the write turn (backend/core/sqlite), which a submit already
        # holds when it schedules its own run; taking the locks in one order everywhere cannot deadlock.
        # No savepoint inside the submit's transaction: an error in deciding fails the submit anyway.
        with transaction.atomic(savepoint=False), _local_lock:
            yield


def _choose() -> list[uuid.UUID]:
    """Walk the waiting runs in order, a page at a time, and take those whose user and workspace have a slot.

    A pass reads in proportion to what it dispatches, not to the queue: a page is read only from the users and
    workspaces that still have a free slot, so a run that is held back stops its user's (or workspace's) runs
    from being read again in this pass. (It read up to 1,000 waiting runs per pass before: for a burst queued by
    one user, the whole queue at every submit and every finish.)
    """
    per_user_limit: int = settings.FLOWYARD_MAX_RUNNING_PER_USER
    per_workspace_limit: int = settings.FLOWYARD_MAX_RUNNING_PER_WORKSPACE
    page = _waiting_page(set(), set(), [])
    if not page:
        return []  # after most runs end: nothing waits, and the slots need not be counted
    holding = (  # counted only: no sort (Run's default ordering)
        Run.objects.filter(
            Q(status=Run.Status.RUNNING) | Q(status=Run.Status.QUEUED, dispatched__isnull=False)
        )
        .values_list("created_by_id", "workspace_id")
        .order_by()
    )
    per_user: Counter[int | None] = Counter()
    per_workspace: Counter[int] = Counter()
    for holder, holder_workspace in holding:
        per_user[holder] += 1
        per_workspace[holder_workspace] += 1
    held = sum(per_workspace.values())
    workspace_limits: dict[int, int] = {}
    full_users: set[int] = set()
    full_workspaces: set[int] = set()
    chosen: list[uuid.UUID] = []
    held_back: list[tuple[uuid.UUID, int | None]] = []
    while page:
        workspace_limits.update(_workspace_limits({w for _, _, w in page} - set(workspace_limits)))
        for run_id, user_id, workspace_id in page:
            workspace_limit = workspace_limits.get(workspace_id, per_workspace_limit)
            if per_workspace[workspace_id] >= workspace_limit:
                full_workspaces.add(workspace_id)
            elif user_id is not None and per_user[user_id] >= per_user_limit:
                full_users.add(user_id)
            else:
                per_user[user_id] += 1
                per_workspace[workspace_id] += 1
                chosen.append(run_id)
                continue
            held_back.append((run_id, user_id))
        if len(page) < CANDIDATES_PER_PAGE:
            break  # the last page: every waiting run has been seen
        # Every run of the page was taken or held back, and a held-back run's user or workspace is full now.
        page = _waiting_page(full_users, full_workspaces, chosen)
    chosen += _borrow_idle_capacity(
        held_back, chosen, held + len(chosen), per_user_limit, per_workspace_limit
    )
    if chosen:
        Run.objects.filter(pk__in=chosen, status=Run.Status.QUEUED, dispatched__isnull=True).update(
            dispatched=timezone.now()
        )
    return chosen


def _waiting_page(
    full_users: set[int], full_workspaces: set[int], chosen: list[uuid.UUID]
) -> list[tuple[uuid.UUID, int | None, int]]:
    """The next ``CANDIDATES_PER_PAGE`` waiting runs in dispatch order (highest priority, then oldest), leaving
    out those of full users and workspaces and those chosen already: ``(id, user id, workspace id)``."""
    waiting = Run.objects.filter(status=Run.Status.QUEUED, dispatched__isnull=True)
    if full_users:
        waiting = waiting.exclude(created_by_id__in=full_users)
    if full_workspaces:
        waiting = waiting.exclude(workspace_id__in=full_workspaces)
    if chosen:
        waiting = waiting.exclude(pk__in=chosen)
    waiting = waiting.order_by("-priority", "created", "id")
    if connection.features.has_select_for_update_skip_locked:
        waiting = waiting.select_for_update(skip_locked=True)
    return list(waiting.values_list("id", "created_by_id", "workspace_id")[:CANDIDATES_PER_PAGE])


def _borrow_idle_capacity(
    held_back: list[tuple[uuid.UUID, int | None]],
    chosen: list[uuid.UUID],
    held: int,
    per_user_limit: int,
    per_workspace_limit: int,
) -> list[uuid.UUID]:
    """The runs held back by the limits that may take idle workers: all of one user's when nobody else waits
    (see the module docstring), as many as the workers have free slots; none under contention."""
    if not held_back or per_user_limit <= 0 or per_workspace_limit <= 0:
        return []
    if not settings.FLOWYARD_LEND_IDLE_WORKERS:
        return []
    user_id = held_back[0][1]
    if user_id is None or any(other != user_id for _, other in held_back):
        return []  # contention: the limits share the workers
    from backend.runs.dispatch import get_dispatcher

    capacity = getattr(get_dispatcher(), "capacity", lambda: None)()
    if capacity is None or capacity <= held:
        return []
    # The pass stopped reading a full user's or workspace's runs: someone else may wait among those not read,
    # and the user may have more runs waiting than the pass saw.
    waiting = Run.objects.filter(status=Run.Status.QUEUED, dispatched__isnull=True).exclude(pk__in=chosen)
    if waiting.exclude(created_by_id=user_id).exists():
        return []
    free = capacity - held
    if len(held_back) >= free:
        return [run_id for run_id, _ in held_back[:free]]
    return list(waiting.order_by("-priority", "created", "id").values_list("id", flat=True)[:free])


def _workspace_limits(workspace_ids: set[int]) -> dict[int, int]:
    """The workspace limit of those of ``workspace_ids`` that ``FLOWYARD_WORKSPACE_WEIGHTS`` weighs (by slug)."""
    weights: dict[str, float] = settings.FLOWYARD_WORKSPACE_WEIGHTS
    if not weights:
        return {}
    from backend.accounts.models import Workspace

    base = settings.FLOWYARD_MAX_RUNNING_PER_WORKSPACE
    found = Workspace.objects.filter(pk__in=workspace_ids, slug__in=list(weights)).values_list("pk", "slug")
    return {pk: max(0, round(base * weights[slug])) for pk, slug in found}


def _submit(run_ids: list[uuid.UUID]) -> None:
    from backend.runs.dispatch import get_dispatcher

    dispatcher = get_dispatcher()
    for run_id in run_ids:
        try:
            dispatcher.submit(run_id)
        except Exception:
            # Give the slot back: a run nobody will execute must not hold it forever.
            logger.exception("could not dispatch run %s; it stays queued", run_id)
            Run.objects.filter(pk=run_id, status=Run.Status.QUEUED).update(dispatched=None)
