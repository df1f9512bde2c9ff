"""Webhook deliveries: recording an event for every endpoint that wants it, and sending it until it is taken.

Reliability rests on rows, not on messages:

- a run's end is recorded as one ``WebhookDelivery`` per subscribed endpoint (unique per endpoint and run), by the
  ``run_finished`` receiver after the run's transaction commits, and again by ``sweep_missed_runs`` (the
  automation tick) for a run whose signal was lost with its process: at least once, never twice;
- a delivery carries its next attempt's time; any message about it (a Celery task, the embedded pool, the tick
  finding it overdue) claims it with a conditional UPDATE, so two messages make one attempt;
- after a failed attempt the next one waits ``retry_delay(attempt)`` (exponential, with jitter) for as long as
  ``FLOWYARD_WEBHOOK_RETRY_HOURS`` after the event; then the delivery is ``failed`` (a person may redeliver it).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from backend.automation import netguard
from backend.automation.models import RUN_EVENTS, DeliveryAttempt, Webhook, WebhookDelivery, event_for_status
from backend.automation.signing import signed_headers

logger = logging.getLogger(__name__)

DELIVER_TASK = "flowyard.automation.deliver_webhook"
# The delays after the 1st, 2nd... failed attempt; then every 2 h until the retry window closes (24 h).
RETRY_DELAYS = (5, 30, 120, 600, 1800, 3600, 7200)
EXCERPT_CHARS = 1000
# A claimed attempt holds its delivery this long past its own timeout (a worker that died mid-attempt frees it).
CLAIM_MARGIN_SECONDS = 30
# Messages for attempts due further out than this are not queued: the tick sends them when due (a Redis broker
# redelivers countdown messages older than its visibility timeout, an hour by default).
MAX_COUNTDOWN_SECONDS = 600


def retry_delay(failed_attempts: int, rng: random.Random | None = None) -> float:
    """Seconds before the next attempt after ``failed_attempts`` failures: the schedule's step, plus up to 10%
    of jitter so endpoints that failed together are not retried together."""
    base = RETRY_DELAYS[min(failed_attempts, len(RETRY_DELAYS)) - 1] * settings.FLOWYARD_WEBHOOK_RETRY_SCALE
    return base * (1 + (rng or random).uniform(0, 0.1))


# Recording events.


def run_payload(run_id: Any) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
    """(event type, payload ``data``, the run's row values) of a finished run; None when it is not finished."""
    from backend.runs.models import Run

    row = (
        Run.objects.filter(pk=run_id, status__in=Run.FINISHED)
        .values(
            "id",
            "status",
            "workspace_id",
            "workflow_id",
            "workflow_version__number",
            "created_by_id",
            "created",
            "started",
            "finished",
            "error",
        )
        .first()
    )
    if row is None:
        return None
    data = {
        "run": {
            "id": str(row["id"]),
            "status": row["status"],
            "workspace": row["workspace_id"],
            "workflow": row["workflow_id"],
            "workflow_version": row["workflow_version__number"],
            "created": _iso(row["created"]),
            "started": _iso(row["started"]),
            "finished": _iso(row["finished"]),
            "error": row["error"],
            "url": f"/api/runs/{row['id']}",
        }
    }
    return event_for_status(row["status"]), data, dict(row)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _endpoints(workspace_id: int, workflow_id: int | None, event: str) -> list[Webhook]:
    """The active endpoints of the workspace (and of the workflow) subscribed to ``event``."""
    scope = Q(workflow__isnull=True)
    if workflow_id is not None:
        scope |= Q(workflow_id=workflow_id)
    hooks = Webhook.objects.filter(scope, workspace_id=workspace_id, active=True)
    return [hook for hook in hooks if hook.wants(event)]


def _envelope(event: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": event, "timestamp": timezone.now().isoformat(), "data": data}


# When no active endpoint exists anywhere (most installations), a run's end costs no query: the answer is kept
# this long. Saving or deleting a webhook in this process forgets it at once; another process learns within this
# delay, and a run end it skipped meanwhile is recorded by the sweep.
NO_WEBHOOKS_TTL_SECONDS = 30.0
_no_webhooks_until = 0.0


def may_have_webhooks() -> bool:
    """False when no active webhook existed a moment ago (at most ``NO_WEBHOOKS_TTL_SECONDS``)."""
    global _no_webhooks_until
    now = time.monotonic()
    if now < _no_webhooks_until:
        return False
    if Webhook.objects.filter(active=True).exists():
        return True
    _no_webhooks_until = now + NO_WEBHOOKS_TTL_SECONDS
    return False


def forget_no_webhooks(**kwargs: Any) -> None:
    """A webhook was saved or deleted: ask the database again next time."""
    global _no_webhooks_until
    _no_webhooks_until = 0.0


def record_run_finished(run_id: Any) -> list[WebhookDelivery]:
    """Record one delivery of the run's end per subscribed endpoint that has none yet; send them once
    committed. Returns the new deliveries. Called in the finishing run's thread, so it costs no query while no
    active endpoint exists anywhere."""
    if not may_have_webhooks():
        return []
    found = run_payload(run_id)
    if found is None:
        return []
    event, data, row = found
    hooks = _endpoints(row["workspace_id"], row["workflow_id"], event)
    return _record(hooks, event, f"run:{row['id']}", row["id"], data)


def record_approval_requested(run_id: Any, approval_id: Any) -> list[WebhookDelivery]:
    """Record an ``approval.requested`` delivery per subscribed endpoint of the run's workflow and workspace."""
    from backend.runs.models import Run

    row = Run.objects.filter(pk=run_id).values("id", "status", "workspace_id", "workflow_id").first()
    if row is None:
        return []
    hooks = _endpoints(row["workspace_id"], row["workflow_id"], "approval.requested")
    data = {
        "run": {
            "id": str(row["id"]),
            "status": row["status"],
            "workspace": row["workspace_id"],
            "workflow": row["workflow_id"],
            "url": f"/api/runs/{row['id']}",
        },
        "approval": {"id": str(approval_id)},
    }
    return _record(hooks, "approval.requested", f"approval:{approval_id}", row["id"], data)


def _record(
    hooks: list[Webhook], event: str, key: str, run_id: UUID | None, data: dict[str, Any]
) -> list[WebhookDelivery]:
    if not hooks:
        return []
    payload = _envelope(event, data)
    # Not durable: it runs in the run-end and approval signal handlers, whose senders decide the transaction.
    with transaction.atomic():
        existing = set(
            WebhookDelivery.objects.filter(webhook__in=hooks, event_key=key).values_list(
                "webhook_id", flat=True
            )
        )
        fresh = [
            WebhookDelivery(webhook=hook, event=event, event_key=key, run_id=run_id, payload=payload)
            for hook in hooks
            if hook.pk not in existing
        ]
        # A concurrent recorder (the signal and the sweep) may insert the same rows: the constraint keeps one.
        WebhookDelivery.objects.bulk_create(fresh, ignore_conflicts=True)
        created = list(
            WebhookDelivery.objects.filter(pk__in=[delivery.pk for delivery in fresh]).values_list(
                "pk", flat=True
            )
        )
        transaction.on_commit(lambda: _send_all(created))
    return [delivery for delivery in fresh if delivery.pk in set(created)]


def _send_all(ids: list[Any]) -> None:
    for pk in ids:
        send_later(pk)


def sweep_missed_runs(now: datetime | None = None) -> int:
    """Record the deliveries of runs that ended (after the endpoint was made, within the retry window, and over
    ``FLOWYARD_WEBHOOK_SWEEP_GRACE_SECONDS`` ago) without one: the signal was lost with its process. Returns how
    many were recorded."""
    from backend.runs.models import Run

    now = now or timezone.now()
    grace = now - timedelta(seconds=settings.FLOWYARD_WEBHOOK_SWEEP_GRACE_SECONDS)
    window = now - timedelta(hours=settings.FLOWYARD_WEBHOOK_RETRY_HOURS)
    recorded = 0
    for hook in Webhook.objects.filter(active=True):
        statuses = [
            status
            for status in Run.FINISHED
            if event_for_status(status) in (hook.events or ()) and event_for_status(status) in RUN_EVENTS
        ]
        if not statuses:
            continue
        runs = Run.objects.filter(
            workspace_id=hook.workspace_id,
            status__in=statuses,
            finished__gte=max(hook.created, window),
            finished__lt=grace,
        )
        if hook.workflow_id is not None:
            runs = runs.filter(workflow_id=hook.workflow_id)
        delivered = WebhookDelivery.objects.filter(webhook=hook, run_id=OuterRef("pk"), event__in=RUN_EVENTS)
        for run_id in runs.filter(~Exists(delivered)).values_list("pk", flat=True)[:500]:
            found = run_payload(run_id)
            if found is None:
                continue
            event, data, row = found
            if _record([hook], event, f"run:{row['id']}", row["id"], data):
                recorded += 1
                logger.info("webhook %s: recorded the missed end of run %s", hook.pk, run_id)
    return recorded


# Sending.


def attempt(delivery_id: Any) -> DeliveryAttempt | None:
    """Make one attempt of a delivery if it is due and no other attempt holds it; record it and plan the next
    one. Returns the attempt, or None when there was nothing to do (a duplicate or early message)."""
    now = timezone.now()
    lease = now + timedelta(seconds=settings.FLOWYARD_WEBHOOK_TIMEOUT_SECONDS + CLAIM_MARGIN_SECONDS)
    claimed = WebhookDelivery.objects.filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
        pk=delivery_id,
        state=WebhookDelivery.State.PENDING,
        next_attempt_at__lte=now + timedelta(seconds=1),
    ).update(claimed_until=lease, attempts=F("attempts") + 1)
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("webhook").filter(pk=delivery_id).first()
    if delivery is None:
        return None  # its webhook was deleted meanwhile
    hook = delivery.webhook
    started = timezone.now()
    if not hook.active:
        answer = netguard.Answer(None, b"", 0.0, "The webhook is disabled.")
    else:
        body = json.dumps(delivery.payload, separators=(",", ":")).encode()
        answer = netguard.post(hook.url, body, signed_headers(hook.secret, delivery.message_id, body))
    record = DeliveryAttempt(
        delivery=delivery,
        number=delivery.attempts,
        started=started,
        status_code=answer.status_code,
        response_excerpt=answer.body[:EXCERPT_CHARS].decode("utf-8", "replace"),
        duration_ms=answer.duration_ms,
        error=answer.error,
    )
    finished = timezone.now()
    fields: dict[str, Any] = {"claimed_until": None, "last_status_code": answer.status_code}
    delay: float | None = None
    if record.succeeded():
        fields.update(
            state=WebhookDelivery.State.SUCCEEDED, delivered=finished, last_error="", next_attempt_at=None
        )
    else:
        fields["last_error"] = answer.error or f"HTTP {answer.status_code}"
        delay = retry_delay(delivery.attempts)
        next_at = finished + timedelta(seconds=delay)
        closes = delivery.window_started + timedelta(hours=settings.FLOWYARD_WEBHOOK_RETRY_HOURS)
        if not hook.active or next_at > closes:
            fields.update(state=WebhookDelivery.State.FAILED, next_attempt_at=None)
            delay = None
        else:
            fields["next_attempt_at"] = next_at
    with transaction.atomic(durable=True):
        record.save()
        # Fenced by our claim: a redelivery asked for meanwhile has reset the row and stays as it asked.
        WebhookDelivery.objects.filter(pk=delivery.pk, claimed_until=lease).update(**fields)
        if delay is not None:
            transaction.on_commit(lambda: send_later(delivery.pk, delay))
    return record


def redeliver(delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again now (same ``webhook-id``), with a fresh retry window; whatever its state."""
    now = timezone.now()
    with transaction.atomic(durable=True):
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            state=WebhookDelivery.State.PENDING, next_attempt_at=now, window_started=now, claimed_until=None
        )
        transaction.on_commit(lambda: send_later(delivery.pk))
    delivery.refresh_from_db()
    return delivery


def send_overdue(now: datetime | None = None, limit: int = 1000) -> int:
    """Hand every pending delivery due over a few seconds ago (its message lost, or never queued because it was
    due far out) to the dispatcher; returns how many."""
    now = now or timezone.now()
    due = WebhookDelivery.objects.filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
        state=WebhookDelivery.State.PENDING,
        next_attempt_at__lte=now - timedelta(seconds=settings.FLOWYARD_WEBHOOK_SWEEP_GRACE_SECONDS),
    ).values_list("pk", flat=True)[:limit]
    ids = list(due)
    for pk in ids:
        send_later(pk)
    return len(ids)


def send_later(delivery_id: Any, delay: float = 0.0) -> None:
    """Have an attempt of the delivery made in ``delay`` seconds (nothing is queued beyond
    ``MAX_COUNTDOWN_SECONDS``: the tick sends it when due). Never raises: the tick is the fallback."""
    if delay > MAX_COUNTDOWN_SECONDS:
        return
    try:
        get_sender().send(str(delivery_id), delay)
    except Exception:
        logger.exception("could not queue webhook delivery %s; the automation tick will send it", delivery_id)


class LocalSender:
    """The embedded mode's sender: attempts on a thread pool of this process, delays on timers."""

    def __init__(self, workers: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="flowyard-webhook")
        self._pending = 0
        self._lock = threading.Lock()

    def send(self, delivery_id: str, delay: float) -> None:
        with self._lock:
            self._pending += 1
        if delay <= 0:
            self._pool.submit(self._attempt, delivery_id)
            return
        timer = threading.Timer(delay, lambda: self._pool.submit(self._attempt, delivery_id))
        timer.daemon = True
        timer.start()

    def busy(self) -> int:
        """Attempts queued, waiting on a timer or in progress."""
        with self._lock:
            return self._pending

    def _attempt(self, delivery_id: str) -> None:
        try:
            attempt(delivery_id)
        except Exception:
            logger.exception(
                "webhook delivery %s: the attempt failed; the automation tick will retry", delivery_id
            )
        finally:
            with self._lock:
                self._pending -= 1
            connections.close_all()


class CelerySender:
    """Sends ``flowyard.automation.deliver_webhook`` by name to ``FLOWYARD_AUTOMATION_QUEUE``."""

    def send(self, delivery_id: str, delay: float) -> None:
        from backend.celery import app

        app.send_task(
            DELIVER_TASK,
            args=[delivery_id],
            countdown=delay or None,
            queue=settings.FLOWYARD_AUTOMATION_QUEUE,
        )


_senders: dict[str, LocalSender | CelerySender] = {}
_senders_lock = threading.Lock()


def get_sender() -> LocalSender | CelerySender:
    """This process's sender for ``FLOWYARD_DISPATCHER`` (the same choice runs make)."""
    kind = settings.FLOWYARD_DISPATCHER
    with _senders_lock:
        sender = _senders.get(kind)
        if sender is None:
            sender = LocalSender(settings.FLOWYARD_WEBHOOK_WORKERS) if kind == "local" else CelerySender()
            _senders[kind] = sender
        return sender
