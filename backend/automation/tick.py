"""The automation tick: fire due schedules, record the run ends whose signal was lost, send overdue deliveries.

Celery beat sends ``flowyard.automation.tick`` every minute (backend/celery.py); in embedded mode
(``FLOWYARD_DISPATCHER=local``) a thread of the web process calls ``tick`` every
``FLOWYARD_AUTOMATION_TICK_SECONDS``. Every step is idempotent, so overlapping ticks are harmless.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any

from django.conf import settings
from django.db import connection

logger = logging.getLogger(__name__)

TICK_TASK = "flowyard.automation.tick"


def tick() -> dict[str, Any]:
    """One pass; returns what it did."""
    from backend.automation.delivery import send_overdue, sweep_missed_runs
    from backend.automation.schedules import fire_due

    report: dict[str, Any] = {}
    for name, step in (
        ("fired", lambda: [str(firing.schedule_id) for firing in fire_due()]),
        ("recorded", sweep_missed_runs),
        ("sent", send_overdue),
    ):
        try:
            report[name] = step()
        except Exception:
            logger.exception("automation tick: %s failed", name)
            report[name] = None
    return report


class Ticker:
    """A daemon thread calling ``tick`` every ``every`` seconds."""

    def __init__(self, every: float) -> None:
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="flowyard-automation-tick", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        try:
            while not self._stop.wait(self.every):
                try:
                    report = tick()
                except Exception:
                    logger.exception("automation tick failed")
                    connection.close()
                    continue
                if any(report.values()):
                    logger.info("automation tick: %s", {k: v for k, v in report.items() if v})
        finally:
            connection.close()


_ticker: Ticker | None = None
_lock = threading.Lock()


def start_embedded_ticker() -> bool:
    """Start the tick thread of an embedded web process (once); False when Celery beat does it, or in tests."""
    global _ticker
    if settings.FLOWYARD_DISPATCHER != "local" or not settings.FLOWYARD_EMBEDDED_WORKER:
        return False
    if "pytest" in sys.modules or settings.FLOWYARD_AUTOMATION_TICK_SECONDS <= 0:
        return False
    with _lock:
        if _ticker is not None:
            return False
        _ticker = Ticker(settings.FLOWYARD_AUTOMATION_TICK_SECONDS)
        _ticker.start()
    return True
