"""Riding out a database blip: retry a unit of database work with backoff instead of losing it.

A worker that loses Postgres for a few seconds (a restart, a failover, a network blip) must neither drop a run's
events nor acknowledge a run it could not claim. ``retry_database(fn, what)`` calls ``fn`` again, with growing
pauses (kombu's ``retry_over_time``: Celery's own retry-with-backoff, the one it reconnects to brokers with),
while it fails with a connection-level error, for up to ``FLOWYARD_DB_RETRY_SECONDS``; between tries the
thread's broken connection is closed so the next try opens a new one. Errors that are not about the connection
(an integrity error, a bad query) are raised at once: retrying them cannot help.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import TypeVar

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from kombu.utils.functional import retry_over_time

logger = logging.getLogger(__name__)

T = TypeVar("T")

# What a lost or restarting database raises (psycopg's OperationalError and closed-connection errors, wrapped).
TRANSIENT = (OperationalError, InterfaceError)
FIRST_PAUSE_SECONDS = 0.2
PAUSE_STEP_SECONDS = 0.5
LONGEST_PAUSE_SECONDS = 5.0


def retry_database(fn: Callable[[], T], what: str, *, seconds: float | None = None) -> T:
    """``fn()``, retried with backoff while the database is unreachable; raises its last error after
    ``seconds`` (default ``FLOWYARD_DB_RETRY_SECONDS``). Inside a transaction it is called once: the
    transaction's owner has to retry it whole."""
    if connection.in_atomic_block:
        return fn()
    budget = settings.FLOWYARD_DB_RETRY_SECONDS if seconds is None else seconds

    def pause(exc: BaseException, pauses: Iterator[float], retries: int) -> float:
        connection.close()  # the broken connection; the next try connects again
        seconds = next(pauses)
        log = logger.warning if retries == 0 else logger.info
        log("%s: the database is unavailable (%s); retry %d in %.1f s", what, exc, retries + 1, seconds)
        return seconds

    try:
        return retry_over_time(
            fn,
            TRANSIENT,
            errback=pause,
            interval_start=FIRST_PAUSE_SECONDS,
            interval_step=PAUSE_STEP_SECONDS,
            interval_max=LONGEST_PAUSE_SECONDS,
            timeout=budget,
        )
    except TRANSIENT:
        connection.close()  # whoever uses this thread's connection next starts from a new one
        raise
