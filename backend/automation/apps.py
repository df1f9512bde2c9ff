import logging
import os
import sys
from typing import Any

from django.apps import AppConfig

logger = logging.getLogger(__name__)


class AutomationConfig(AppConfig):
    name = "backend.automation"
    label = "automation"
    verbose_name = "Automation"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from backend.automation.delivery import forget_no_webhooks
        from backend.automation.models import Webhook
        from backend.runs.signals import approval_requested, run_finished

        post_save.connect(forget_no_webhooks, sender=Webhook, dispatch_uid="automation.webhook_saved")
        post_delete.connect(forget_no_webhooks, sender=Webhook, dispatch_uid="automation.webhook_deleted")
        run_finished.connect(_on_run_finished, dispatch_uid="automation.run_finished")
        approval_requested.connect(_on_approval_requested, dispatch_uid="automation.approval_requested")
        if _web_server_process():
            # A web server process: in embedded mode it also ticks (schedules, webhook retries).
            from backend.automation.tick import start_embedded_ticker

            start_embedded_ticker()


def _on_run_finished(sender: Any, run_id: Any = None, **kwargs: Any) -> None:
    from backend.automation.delivery import record_run_finished

    try:
        record_run_finished(run_id)
    except Exception:  # the automation tick records it later (sweep_missed_runs)
        logger.exception("could not record the webhook deliveries of run %s", run_id)


def _on_approval_requested(sender: Any, run_id: Any = None, approval_id: Any = None, **kwargs: Any) -> None:
    from backend.automation.delivery import record_approval_requested

    try:
        record_approval_requested(run_id, approval_id)
    except Exception:
        logger.exception("could not record the webhook deliveries of approval %s", approval_id)


def _web_server_process() -> bool:
    """True in a process serving the web app (``make run``'s uvicorn, daphne, gunicorn, runserver)."""
    program = os.path.basename(sys.argv[0]) if sys.argv else ""
    return (
        "uvicorn" in sys.modules
        or "gunicorn" in sys.modules
        or program in ("daphne", "uvicorn", "gunicorn")
        or (len(sys.argv) > 1 and sys.argv[1] == "runserver")
    )
