"""Celery tasks, sent by name: thin wrappers over the code the embedded mode calls."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from backend.automation.delivery import DELIVER_TASK
from backend.automation.tick import TICK_TASK


@shared_task(name=DELIVER_TASK, ignore_result=True)
def deliver_webhook(delivery_id: str) -> int | None:
    """Make the delivery's attempt if it is due and unclaimed; returns the answer's status code."""
    from backend.automation.delivery import attempt

    record = attempt(delivery_id)
    return record.status_code if record is not None else None


@shared_task(name=TICK_TASK, ignore_result=True)
def automation_tick() -> dict[str, Any]:
    """Fire due schedules, record missed run ends, send overdue deliveries."""
    from backend.automation.tick import tick

    return tick()
