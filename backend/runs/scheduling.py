"""Fair use: which waiting runs may start now. The one place that decides it.

A user may have ``FLOWYARD_MAX_RUNNING_PER_USER`` runs and a workspace ``FLOWYARD_MAX_RUNNING_PER_WORKSPACE``
runs holding a slot at once; a run holds a slot from the moment it is handed to the dispatcher (``dispatched``)
until it finishes. Runs beyond the limits stay queued. ``dispatch_next()`` is called after a run is created,
cancelled or finishes: it walks the waiting runs, highest priority then oldest first, and hands over every one
whose user and workspace have a free slot, so one user's long queue never blocks another user's run.

Concurrency: two schedulers deciding at once could each see a free slot and together exceed it, so deciding is
serialised: on Postgres with a transaction-level advisory lock (rows being changed by someone else are skipped
with ``SKIP LOCKED``), elsewhere (SQLite, one process) with a process-wide lock.
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
        with _local_lock, transaction.atomic():
            yield


def _choose() -> list[uuid.UUID]:
    per_user_limit = settings.FLOWYARD_MAX_RUNNING_PER_USER
    per_workspace_limit = settings.FLOWYARD_MAX_RUNNING_PER_WORKSPACE
    holding = Run.objects.filter(
        Q(status=Run.Status.RUNNING) | Q(status=Run.Status.QUEUED, dispatched__isnull=False)
    ).values_list("created_by_id", "workspace_id")
    per_user: Counter[int | None] = Counter()
    per_workspace: Counter[int] = Counter()
    for user_id, workspace_id in holding:
        per_user[user_id] += 1
        per_workspace[workspace_id] += 1

    waiting = Run.objects.filter(status=Run.Status.QUEUED, dispatched__isnull=True).order_by(
        "-priority", "created", "id"
    )
    if connection.features.has_select_for_update_skip_locked:
        waiting = waiting.select_for_update(skip_locked=True)
    chosen: list[uuid.UUID] = []
    for run_id, user_id, workspace_id in waiting.values_list("id", "created_by_id", "workspace_id")[
        :CANDIDATES_PER_PASS
    ]:
        if per_workspace[workspace_id] >= per_workspace_limit:
            continue
        if user_id is not None and per_user[user_id] >= per_user_limit:
            continue
        per_user[user_id] += 1
        per_workspace[workspace_id] += 1
        chosen.append(run_id)
    if chosen:
        Run.objects.filter(pk__in=chosen, status=Run.Status.QUEUED, dispatched__isnull=True).update(
            dispatched=timezone.now()
        )
    return chosen


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
