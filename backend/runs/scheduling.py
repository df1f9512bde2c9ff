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
CANDIDATES_PER_PASS = 1000

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
        with transaction.atomic(), _local_lock:
            yield


def _choose() -> list[uuid.UUID]:
    per_user_limit = settings.FLOWYARD_MAX_RUNNING_PER_USER
    per_workspace_limit = settings.FLOWYARD_MAX_RUNNING_PER_WORKSPACE
    waiting = Run.objects.filter(status=Run.Status.QUEUED, dispatched__isnull=True).order_by(
        "-priority", "created", "id"
    )
    if connection.features.has_select_for_update_skip_locked:
        waiting = waiting.select_for_update(skip_locked=True)
    candidates = list(waiting.values_list("id", "created_by_id", "workspace_id")[:CANDIDATES_PER_PASS])
    if not candidates:
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
    for user_id, workspace_id in holding:
        per_user[user_id] += 1
        per_workspace[workspace_id] += 1
    held = sum(per_workspace.values())
    workspace_limits = _workspace_limits({workspace_id for _, _, workspace_id in candidates})
    chosen: list[uuid.UUID] = []
    held_back: list[tuple[uuid.UUID, int | None]] = []
    for run_id, user_id, workspace_id in candidates:
        if per_workspace[workspace_id] >= workspace_limits.get(workspace_id, per_workspace_limit) or (
            user_id is not None and per_user[user_id] >= per_user_limit
        ):
            held_back.append((run_id, user_id))
            continue
        per_user[user_id] += 1
        per_workspace[workspace_id] += 1
        chosen.append(run_id)
    chosen += _borrow_idle_capacity(held_back, held + len(chosen), per_user_limit, per_workspace_limit)
    if chosen:
        Run.objects.filter(pk__in=chosen, status=Run.Status.QUEUED, dispatched__isnull=True).update(
            dispatched=timezone.now()
        )
    return chosen


def _borrow_idle_capacity(
    held_back: list[tuple[uuid.UUID, int | None]], held: int, per_user_limit: int, per_workspace_limit: int
) -> list[uuid.UUID]:
    """The runs held back by the limits that may take idle workers: all of one user's when nobody else waits
    (see the module docstring), as many as the workers have free slots; none under contention."""
    if not held_back or per_user_limit <= 0 or per_workspace_limit <= 0:
        return []
    if not settings.FLOWYARD_LEND_IDLE_WORKERS:
        return []
    if len({user_id for _, user_id in held_back}) > 1 or held_back[0][1] is None:
        return []  # contention: the limits share the workers
    from backend.runs.dispatch import get_dispatcher

    capacity = getattr(get_dispatcher(), "capacity", lambda: None)()
    if capacity is None or capacity <= held:
        return []
    return [run_id for run_id, _ in held_back[: capacity - held]]


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
