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
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any, Literal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from backend.runs.models import NodeRun, Run, RunEvent
from backend.workers_registry.identity import pid_alive
from backend.workers_registry.models import Worker, worker_of_run

logger = logging.getLogger(__name__)

Outcome = Literal["requeued", "claimed", "failed"]


def sweep() -> dict[str, Any]:
    """Mark silent workers lost and re-queue (or fail) their runs; return what was done."""
    lost = mark_lost_workers()
    recovered = recover_orphaned_runs()
    return {"workers_lost": lost, **recovered}


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
    from backend.runs.scheduling import dispatch_next

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
        from backend.runs.scheduling import dispatch_next

        dispatch_next()
    return outcome == "claimed"


def requeue_run(
    run_id: Any, previous_worker: str, reason: str, *, claim_for: str | None = None
) -> Outcome | None:
    """Put a RUNNING run of ``previous_worker`` back to QUEUED (or straight to ``claim_for``), or fail it when
    it is out of attempts; None when the run is no longer RUNNING on that worker (someone else acted first)."""
    max_attempts = settings.FLOWYARD_MAX_RUN_ATTEMPTS
    with transaction.atomic():
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
            data = {
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
    logger.warning("run %s of worker %s: %s (%s)", run_id, previous_worker, outcome, reason)
    return outcome


def _publish(run: Run, row: RunEvent) -> None:
    from backend.runs.publish import publish_run_events, publish_run_status

    try:
        publish_run_events(run, [row.to_json()])
        if row.type == "run_requeued" and run.status == Run.Status.QUEUED:
            publish_run_status(run)
    except Exception:
        logger.exception("could not publish the recovery of run %s", run.pk)


def _seconds(value: float):
    from datetime import timedelta

    return timedelta(seconds=value)
