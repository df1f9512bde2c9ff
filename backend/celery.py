"""The Celery app "flowyard": worker processes run ``celery -A backend worker -Q flowyard.cpu``.

Configuration comes from Django settings with the ``CELERY_`` prefix (see settings.py). Queues are named
``flowyard.cpu`` and ``flowyard.gpu``, never Celery's default ``celery``, so another app on the same Redis
database does not take our tasks.

This module imports no app of the project: tasks are found by name (each installed app's ``tasks`` module, by
``autodiscover_tasks``), senders send them by name (``app.send_task``), and what a worker process does around its
tasks (the reconciliation loop, its database connections) lives in ``backend/runs/celery_worker.py``, which a
worker imports by name as it starts (``include``).
"""

import os
from typing import Any

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

app = Celery("flowyard", include=["backend.runs.celery_worker"])
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

AUTOMATION_TICK = "flowyard.automation.tick"


@app.on_after_configure.connect
def _automation_beat(sender: Celery, **kwargs: Any) -> None:
    """Beat sends the automation tick at the start of every minute (backend/automation/tick.py): it fires the
    due cron schedules (a row lock and one firing row per occurrence: two beats never start one twice), records
    the webhook deliveries of run ends whose signal was lost, and sends overdue deliveries."""
    from celery.schedules import crontab
    from django.conf import settings

    tick = sender.signature(AUTOMATION_TICK, queue=settings.FLOWYARD_AUTOMATION_QUEUE)
    sender.add_periodic_task(crontab(), tick, name="automation-tick")
