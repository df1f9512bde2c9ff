"""Crash recovery: runs whose worker died go back to the queue and resume from the shared cache.

A worker that stops sending heartbeats is marked ``lost`` (``mark_lost_workers``); ``recover_orphaned_runs``
then takes each run still RUNNING on a lost (or cleanly stopped) worker, or on a worker the registry never heard
of once the run has been silent for ``FLOWYARD_RUN_STALL_SECONDS``, and with one conditional UPDATE (status,
worker and last_seq unchanged) puts it back to QUEUED, recording a ``run_requeued`` event at ``last_seq + 1``.
The scheduler dispatches it again; the next worker's engine finds the finished nodes' outputs in the shared
cache and executes only the rest, and its events continue after ``last_seq``. After
``FLOWYARD_MAX_RUN_ATTEMPTS`` claims the run fails instead.

A redelivered Celery message (acks_late, reject_on_worker_lost) may arrive before the sweep: ``execute_run``
then takes the run over directly with ``claim_from_lost_worker``, under the same conditions.

The reconciliation loop (``Reconciler``) owns every run that has not ended. Each Celery worker runs it on a thread
of its main process (backend/runs/celery_worker.py), so it never waits behind runs, needs no broker to reach it, and GPU-only
workers run it too; the embedded web process runs ``sweep`` from its heartbeat thread. One pass:

- ``release_unheld_runs``: a run RUNNING on this worker that none of its pool processes holds any more (the child
  was OOM-killed; Celery may have redelivered the message to another worker, which found the run taken) goes back
  to the queue, attempt counted, event log continued;
- ``sweep`` (one sweeper at a time: a Postgres advisory lock): silent workers are marked lost and their runs
  re-queued; a run QUEUED and handed to the dispatcher over ``FLOWYARD_DISPATCH_GRACE_SECONDS`` ago whose message
  is neither waiting in the broker nor held by a worker (Redis restarted without it) is dispatched again
  (``redispatch_lost_messages``); approvals past their deadline get their ``on_timeout`` decision
  (backend/approvals); then the scheduler starts whatever the fair-use slots allow.

Claims are conditional UPDATEs, so a run dispatched twice is executed once.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, Literal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from backend.approvals.actions import expire_approvals, request_missing_approvals
from backend.runs.dispatch import get_dispatcher
from backend.runs.models import NodeRun, Run, RunEvent
from backend.runs.publish import publish_run_events, publish_run_status
from backend.runs.scheduling import dispatch_next
from backend.runs.signals import run_finished
from backend.workers_registry.identity import pid_alive
from backend.workers_registry.models import Worker, worker_of_run

logger = logging.getLogger(__name__)

Outcome = Literal["requeued", "claimed", "failed"]


# pg_try_advisory_lock key of the sweep: one sweeper at a time across every worker of the installation.
SWEEP_LOCK_KEY = 0x466C7953  # "FlyS"
_sweep_lock = threading.Lock()


def sweep(*, judge_workers: bool = True) -> dict[str, Any]:
    """Mark silent workers lost and re-queue (or fail) their runs, dispatch again the runs whose message was lost,
    start what the fair-use slots allow; return what was done (nothing when another process is sweeping).

    ``judge_workers=False`` skips judging workers by their heartbeats: right after this process itself could not
    reach the database, every worker's heartbeat looks old and none of them should be presumed dead for it."""
    report: dict[str, Any] = {"workers_lost": [], "requeued": [], "failed": [], "redispatched": []}
    with _sweeping() as mine:
        if not mine:
            return report
        if judge_workers:
            report["workers_lost"] = mark_lost_workers()
            report.update(recover_orphaned_runs())
        report["redispatched"] = redispatch_lost_messages()
        report.update(_approvals_due())
        dispatch_next()
    return report


def _approvals_due() -> dict[str, list[Any]]:
    """Apply the timeouts of approvals past their deadline; request those a worker stopped before creating."""
    try:
        done: dict[str, list[Any]] = {
            "approvals_requested": request_missing_approvals(),
            "approvals_timed_out": expire_approvals(),
        }
    except Exception:
        logger.exception("could not check the approvals waiting for a decision")
        return {}
    return {name: ids for name, ids in done.items() if ids}  # reported only when something was done


@contextmanager
def _sweeping() -> Iterator[bool]:
    """Hold the sweep lock if it is free; yields whether this process got it."""
    if connection.vendor != "postgresql":
        if not _sweep_lock.acquire(blocking=False):
            yield False
            return
        try:
            yield True
        finally:
            _sweep_lock.release()
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [SWEEP_LOCK_KEY])
        got = cursor.fetchone()[0]
    if not got:
        yield False
        return
    try:
        yield True
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [SWEEP_LOCK_KEY])


def redispatch_lost_messages() -> list[str]:
    """Dispatch again each run handed to the dispatcher over ``FLOWYARD_DISPATCH_GRACE_SECONDS`` ago, still
    queued, whose message the dispatcher no longer has (lost with a broker restart, or with the process that held
    it); return their ids. Nothing when the dispatcher cannot tell which messages it has."""
    cutoff = timezone.now() - _seconds(settings.FLOWYARD_DISPATCH_GRACE_SECONDS)
    stale = list(
        Run.objects.filter(status=Run.Status.QUEUED, dispatched__lt=cutoff).values_list("id", "dispatched")
    )
    if not stale:
        return []
    dispatcher = get_dispatcher()
    try:
        carried = dispatcher.carried_run_ids()
    except Exception:
        logger.exception("could not list the messages of the dispatcher; runs are not dispatched again now")
        return []
    if carried is None:
        return []
    redispatched = []
    for run_id, dispatched in stale:
        if str(run_id) in carried:
            continue
        # Conditional on the row we read: a worker claiming it, or another sweeper, wins.
        if not Run.objects.filter(pk=run_id, status=Run.Status.QUEUED, dispatched=dispatched).update(
            dispatched=timezone.now()
        ):
            continue
        try:
            dispatcher.submit(run_id)
        except Exception:
            logger.exception("could not dispatch run %s again; it waits for a free slot", run_id)
            Run.objects.filter(pk=run_id, status=Run.Status.QUEUED).update(dispatched=None)
            continue
        logger.warning(
            "run %s was dispatched %s but its message is gone: dispatched again", run_id, dispatched
        )
        redispatched.append(str(run_id))
    return redispatched


def release_unheld_runs(worker: str, held: Callable[[], set[str]]) -> list[str]:
    """Re-queue the runs RUNNING on ``worker`` (its main process or its pool children) that ``held()`` does not
    name: the process executing one died while the worker lives on; return their ids.

    The rows are read before ``held()`` is asked: a worker reserves a message before a child can claim its run,
    so a run claimed by the time of the read is already held, or has ended (and the conditional UPDATE skips it).
    """
    rows = list(
        Run.objects.filter(
            Q(worker=worker) | Q(worker__startswith=f"{worker}/"), status=Run.Status.RUNNING
        ).values_list("id", "worker")
    )
    if not rows:
        return []
    holding = held()
    released = []
    for run_id, run_worker in rows:
        if str(run_id) in holding:
            continue
        outcome = requeue_run(run_id, run_worker, "worker_process_lost")
        if outcome is not None:
            released.append(str(run_id))
    if released:
        dispatch_next()
    return released


class Reconciler:
    """The reconciliation loop of one worker: a daemon thread that every ``every`` seconds releases the runs this
    worker no longer holds (when ``held`` is given) and takes its turn at the sweep.

    Workers are judged by their heartbeats only once this thread has reached the database for a whole
    ``FLOWYARD_WORKER_LOST_SECONDS``: after an outage every heartbeat is old, and none means its worker died."""

    def __init__(self, worker: str, held: Callable[[], set[str]] | None, every: float) -> None:
        self.worker = worker
        self.held = held
        self.every = every
        self.passes = 0
        # A worker that starts judges heartbeats at once (they are fresh unless the database was just down, and
        # then its first pass fails and resets this).
        self._reachable_since: float | None = time.monotonic() - settings.FLOWYARD_WORKER_LOST_SECONDS
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"flowyard-reconcile-{worker}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def database_lost(self, at: float | None = None) -> None:
        """Note that a pass could not reach the database (at ``at``, a ``time.monotonic()`` value; default now):
        workers are judged again only after a whole lost period of reaching it from then."""
        self._reachable_since = None if at is None else at

    def run_once(self) -> dict[str, Any]:
        """One pass; returns what it did."""
        now = time.monotonic()
        if self._reachable_since is None:
            self._reachable_since = now
        report: dict[str, Any] = {}
        if self.held is not None:
            report["released"] = release_unheld_runs(self.worker, self.held)
        judge = now - self._reachable_since >= settings.FLOWYARD_WORKER_LOST_SECONDS
        report.update(sweep(judge_workers=judge))
        self.passes += 1
        return report

    def _loop(self) -> None:
        try:
            while not self._stop.wait(self.every):
                try:
                    report = self.run_once()
                except Exception:
                    logger.exception("reconciliation pass of worker %s failed", self.worker)
                    self.database_lost()
                    connection.close()  # a broken connection: the next pass opens a new one
                    continue
                if any(report.values()):
                    logger.info("reconciled: %s", {k: v for k, v in report.items() if v})
        finally:
            connection.close()


def mark_lost_workers() -> list[str]:
    """Mark online workers silent for longer than ``FLOWYARD_WORKER_LOST_SECONDS`` lost; return their names."""
    cutoff = timezone.now() - _seconds(settings.FLOWYARD_WORKER_LOST_SECONDS)
    silent = list(
        Worker.objects.filter(status=Worker.Status.ONLINE, last_heartbeat__lt=cutoff).values_list(
            "name", flat=True
        )
    )
    lost = []
    for name in silent:
        # Conditional: a heartbeat that lands meanwhile keeps the worker online.
        if Worker.objects.filter(name=name, status=Worker.Status.ONLINE, last_heartbeat__lt=cutoff).update(
            status=Worker.Status.LOST, current_runs=[]
        ):
            lost.append(name)
            logger.warning("worker %s sent no heartbeat since before %s: marked lost", name, cutoff)
    return lost


def recover_orphaned_runs() -> dict[str, list[str]]:
    """Re-queue the runs whose worker is gone (fail those out of attempts); return their ids by outcome."""
    running = list(
        Run.objects.filter(status=Run.Status.RUNNING).values_list("id", "worker", "started", "last_seq")
    )
    names = {worker_of_run(worker) for _, worker, _, _ in running}
    workers = {worker.name: worker for worker in Worker.objects.filter(name__in=names)}
    report: dict[str, list[str]] = {"requeued": [], "failed": []}
    for run_id, worker, started, last_seq in running:
        reason = _orphan_reason(run_id, worker, workers.get(worker_of_run(worker)), started, last_seq)
        if reason is None:
            continue
        outcome = requeue_run(run_id, worker, reason)
        if outcome is not None:
            report[outcome].append(str(run_id))
    if report["requeued"] or report["failed"]:
        dispatch_next()
    return report


def _orphan_reason(
    run_id: uuid.UUID, worker: str, known: Worker | None, started: Any, last_seq: int
) -> str | None:
    if known is not None:
        if known.is_alive():
            return None
        return "worker_stopped" if known.status == Worker.Status.STOPPED else "worker_lost"
    # A worker the registry does not know (an old embedded process, a worker without the registry app): only
    # a long silence tells that it is gone.
    stall = settings.FLOWYARD_RUN_STALL_SECONDS
    last = RunEvent.objects.filter(run_id=run_id, seq=last_seq).values_list("time", flat=True).first()
    last_activity = max(last or 0.0, started.timestamp() if started else 0.0)
    return "stalled" if time.time() - last_activity > stall else None


def previous_worker_gone(previous: str, me: str) -> bool:
    """True when the worker recorded on a run is known to be dead: lost or stopped in the registry, silent past
    the lost threshold, or a prefork child of this very worker node that no longer exists."""
    if not previous or previous == me:
        return False
    name = worker_of_run(previous)
    known = Worker.objects.filter(name=name).first()
    if known is not None and not known.is_alive():
        return True
    if name == worker_of_run(me) and "/" in previous:
        child = previous.split("/", 1)[1]
        return child.isdigit() and not pid_alive(int(child))
    return False


def claim_from_lost_worker(run_id: Any, worker_name: str) -> bool:
    """Take over a RUNNING run whose worker is gone (a redelivered message); True if this worker now has it."""
    previous = (
        Run.objects.filter(pk=run_id, status=Run.Status.RUNNING).values_list("worker", flat=True).first()
    )
    if previous is None or not previous_worker_gone(previous, worker_name):
        return False
    outcome = requeue_run(run_id, previous, "worker_lost", claim_for=worker_name)
    if outcome == "failed":
        dispatch_next()
    return outcome == "claimed"


def requeue_run(
    run_id: Any, previous_worker: str, reason: str, *, claim_for: str | None = None
) -> Outcome | None:
    """Put a RUNNING run of ``previous_worker`` back to QUEUED (or straight to ``claim_for``), or fail it when
    it is out of attempts; None when the run is no longer RUNNING on that worker (someone else acted first)."""
    max_attempts = settings.FLOWYARD_MAX_RUN_ATTEMPTS
    # The outermost transaction (the sweep, a worker's release or claim): the run is dispatched after its commit.
    with transaction.atomic(durable=True):
        run = (
            Run.objects.select_for_update()
            .filter(pk=run_id, status=Run.Status.RUNNING, worker=previous_worker)
            .first()
        )
        if run is None:
            return None
        seq = run.last_seq + 1
        now = timezone.now()
        fields: dict[str, Any] = {"last_seq": seq}
        outcome: Outcome
        event: tuple[str, dict[str, Any]]
        if run.attempts >= max_attempts:
            outcome = "failed"
            error = (
                f"The run was stopped after {run.attempts} attempt{'s' if run.attempts != 1 else ''}: "
                f"the worker executing it was lost each time (worker {previous_worker})."
            )
            fields.update(status=Run.Status.FAILED, finished=now, error=error)
            event = ("run_finished", {"status": "failed", "error": error, "reason": reason})
            NodeRun.objects.filter(run=run, status=NodeRun.Status.RUNNING).update(
                status=NodeRun.Status.FAILED, finished=now, error="The worker executing it was lost."
            )
            NodeRun.objects.filter(run=run, status=NodeRun.Status.QUEUED).update(
                status=NodeRun.Status.SKIPPED, finished=now
            )
        else:
            data: dict[str, Any] = {
                "attempt": run.attempts + 1,
                "max_attempts": max_attempts,
                "reason": reason,
                "previous_worker": previous_worker,
            }
            if claim_for is None:
                outcome = "requeued"
                fields.update(status=Run.Status.QUEUED, dispatched=None, worker="")
            else:
                outcome = "claimed"
                fields.update(worker=claim_for[:200], attempts=run.attempts + 1)
                data["worker"] = claim_for
            event = ("run_requeued", data)
            # Nodes the lost worker was executing start over; finished ones keep their outcome (and cache).
            NodeRun.objects.filter(run=run, status=NodeRun.Status.RUNNING).update(
                status=NodeRun.Status.QUEUED, started=None, progress_value=None, progress_max=None
            )
        updated = Run.objects.filter(
            pk=run.pk, status=Run.Status.RUNNING, worker=previous_worker, last_seq=run.last_seq
        ).update(**fields)
        if not updated:
            return None
        row = RunEvent.objects.create(run=run, seq=seq, type=event[0], data=event[1], time=time.time())
        for name, value in fields.items():
            setattr(run, name, value)
        transaction.on_commit(lambda: _publish(run, row))
        if outcome == "failed":
            transaction.on_commit(lambda: run_finished.send(sender=Run, run_id=run.pk, status=run.status))
    logger.warning("run %s of worker %s: %s (%s)", run_id, previous_worker, outcome, reason)
    return outcome


def _publish(run: Run, row: RunEvent) -> None:
    try:
        publish_run_events(run, [row.to_json()])
        if row.type == "run_requeued" and run.status == Run.Status.QUEUED:
            publish_run_status(run)
    except Exception:
        logger.exception("could not publish the recovery of run %s", run.pk)


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)
