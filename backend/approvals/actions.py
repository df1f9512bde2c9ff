"""Every write to approvals: request them when a run pauses, decide them (a person or the timeout).

Each runs in one transaction holding the run's row lock, appends its events to the run's log at ``last_seq + 1``
and tells others (sockets, signals, the scheduler) after commit.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from backend.accounts.models import User
from backend.approvals.models import Approval
from backend.runs.actions import RunConflict
from backend.runs.models import NodeRun, Run, RunEvent
from backend.runs.publish import publish_run_events, publish_run_status
from backend.runs.scheduling import dispatch_next
from backend.runs.signals import approval_requested, run_finished

logger = logging.getLogger(__name__)

COMMENT_CHARS = 2_000


def _append_event(run: Run, type: str, node: str | None, data: dict[str, Any]) -> dict[str, Any]:
    """Store one event after the run's last (the caller holds the run's row lock); return it as clients get it."""
    run.last_seq += 1
    event = RunEvent.objects.create(
        run=run, seq=run.last_seq, type=type, node=node, data=data, time=time.time()
    )
    return event.to_json()


def request_approvals(run_id: Any) -> list[Approval]:
    """Create the approvals a paused run waits for, from its ``node_paused`` events; return the new ones.

    Idempotent (the worker calls it when the attempt pauses, the sweep again for a run left without one)."""
    with transaction.atomic(durable=True):
        run = Run.objects.select_for_update().filter(pk=run_id, status=Run.Status.AWAITING_APPROVAL).first()
        if run is None:
            return []
        known = set(Approval.objects.filter(run=run).values_list("node_id", flat=True))
        now = timezone.now()
        created: list[Approval] = []
        events: list[dict[str, Any]] = []
        for event in RunEvent.objects.filter(run=run, type="node_paused").order_by("seq"):
            if event.node is None or event.node in known:
                continue
            known.add(event.node)
            data = event.data
            hours = float(data.get("timeout_hours") or 0)
            on_timeout = data.get("on_timeout")
            approval = Approval.objects.create(
                run=run,
                node_id=event.node,
                message=str(data.get("message") or ""),
                approver_role=str(data.get("role") or ""),
                approver_users=[str(name) for name in data.get("users") or []],
                on_timeout=on_timeout if on_timeout in Approval.Decision.values else Approval.Decision.REJECT,
                requested=now,
                deadline=now + timedelta(hours=hours) if hours > 0 else None,
            )
            created.append(approval)
            events.append(_append_event(run, "approval_requested", approval.node_id, approval.to_event()))
        if not created:
            return []
        Run.objects.filter(pk=run.pk).update(last_seq=run.last_seq)

        def tell() -> None:
            publish_run_events(run, events)
            for approval in created:
                approval_requested.send(sender=Run, run_id=run.pk, approval_id=approval.pk)

        transaction.on_commit(tell)
    return created


def do_decide(
    user: User | None, approval: Approval, decision: str, comment: str = "", *, timed_out: bool = False
) -> Approval:
    """Record ``decision`` (approve or reject) on a pending approval; raise ``RunConflict`` when it is decided
    already or its run no longer waits.

    Reject ends the run ``rejected``; approve re-queues it once none of its approvals is pending any more (its
    next attempt loads what finished from the cache and passes the approved value on).
    """
    if decision not in Approval.Decision.values:
        raise ValueError(f"unknown decision {decision!r}")
    with transaction.atomic(durable=True):
        run = Run.objects.select_for_update().get(pk=approval.run_id)
        approval = Approval.objects.select_for_update().get(pk=approval.pk)
        if not approval.is_pending():
            raise RunConflict(f"This approval was already decided ({approval.decision}).")
        if run.status != Run.Status.AWAITING_APPROVAL:
            raise RunConflict(f"The run is {run.status}; it no longer waits for approval.")
        now = timezone.now()
        approval.decision = decision
        approval.decided_by = user
        approval.decided_at = now
        approval.comment = comment[:COMMENT_CHARS]
        approval.timed_out = timed_out
        approval.save(update_fields=["decision", "decided_by", "decided_at", "comment", "timed_out"])
        ended = decision == Approval.Decision.REJECT
        resumes = not ended and not Approval.objects.filter(run=run, decision="").exists()
        after = Run.Status.REJECTED if ended else Run.Status.QUEUED if resumes else run.status
        decided = {**approval.to_event(), "run_status": str(after)}  # what the run does next
        events = [_append_event(run, "approval_decided", approval.node_id, decided)]
        if ended:
            _reject(run, approval, now, events)
        elif resumes:
            # Every approval said yes: back to the queue; the scheduler hands it to a worker like any run.
            Run.objects.filter(pk=run.pk).update(
                status=Run.Status.QUEUED, dispatched=None, last_seq=run.last_seq
            )
            NodeRun.objects.filter(run=run, status=NodeRun.Status.AWAITING).update(
                status=NodeRun.Status.QUEUED
            )
            run.status = Run.Status.QUEUED
        else:
            Run.objects.filter(pk=run.pk).update(last_seq=run.last_seq)
        run_id, status = run.pk, run.status

        def tell() -> None:
            publish_run_events(run, events)
            publish_run_status(run)
            if ended:
                run_finished.send(sender=Run, run_id=run_id, status=status)
            elif status == Run.Status.QUEUED:
                dispatch_next()

        transaction.on_commit(tell)
    return approval


def _reject(run: Run, approval: Approval, now: Any, events: list[dict[str, Any]]) -> None:
    """End the run ``rejected`` (the caller holds its lock): the step fails with who and why, the rest is
    skipped, and a ``run_finished`` event closes the log."""
    if approval.timed_out:
        reason = "Rejected: no decision before the approval's deadline."
    else:
        who = approval.decided_by.get_username() if approval.decided_by else "an approver"
        reason = f"Rejected by {who}" + (f": {approval.comment}" if approval.comment else ".")
    NodeRun.objects.filter(run=run, node_id=approval.node_id).update(
        status=NodeRun.Status.FAILED, finished=now, error=reason, error_type="Rejected"
    )
    NodeRun.objects.filter(
        run=run, status__in=[NodeRun.Status.QUEUED, NodeRun.Status.RUNNING, NodeRun.Status.AWAITING]
    ).update(status=NodeRun.Status.SKIPPED, finished=now)
    run.status = Run.Status.REJECTED
    run.finished = now
    run.error = reason
    finished = {
        "status": Run.Status.REJECTED.value,
        "executed": 0,
        "cached": 0,
        "failed": [approval.node_id],
        "duration": run.duration(),
        "error": reason,
    }
    events.append(_append_event(run, "run_finished", None, finished))
    Run.objects.filter(pk=run.pk).update(
        status=run.status, finished=now, error=reason[:2000], last_seq=run.last_seq
    )


def expire_approvals(now: Any = None) -> list[int]:
    """Apply ``on_timeout`` to every pending approval past its deadline; return their ids."""
    now = now or timezone.now()
    due = Approval.objects.filter(
        decision="", deadline__lte=now, run__status=Run.Status.AWAITING_APPROVAL
    ).order_by("deadline")
    expired = []
    for approval in due:
        try:
            do_decide(None, approval, approval.on_timeout, "No decision before the deadline.", timed_out=True)
        except RunConflict:
            continue  # decided (or the run cancelled) meanwhile
        expired.append(approval.pk)
    return expired


def request_missing_approvals() -> list[str]:
    """Create the approvals of paused runs that have none pending (the worker stopped right after pausing)."""
    waiting = Run.objects.filter(status=Run.Status.AWAITING_APPROVAL).exclude(approvals__decision="")
    repaired = []
    for run_id in waiting.values_list("id", flat=True)[:100]:
        if request_approvals(run_id):
            repaired.append(str(run_id))
    return repaired
