"""Celery worker signals: register the worker at start, keep its heartbeat, mark it stopped at shutdown."""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import signals

from backend.workers_registry import identity

logger = logging.getLogger(__name__)

_presence = None


@signals.worker_init.connect
def _name_worker(sender: Any = None, **kwargs: Any) -> None:
    # Before the pool forks: every child inherits the name.
    identity.set_worker_name(f"{sender.hostname}:{os.getpid()}")


@signals.worker_ready.connect
def _register_worker(sender: Any = None, **kwargs: Any) -> None:
    global _presence
    from backend.workers_registry.heartbeat import WorkerPresence, collect_pack_environments_every

    name = identity.worker_name()
    if name is None:  # worker_init did not run (an embedded test worker): name it now
        name = f"{sender.hostname}:{os.getpid()}"
        identity.set_worker_name(name)
    controller = getattr(sender, "controller", None)
    concurrency = int(getattr(controller, "concurrency", 1) or 1)
    queues = sorted(sender.app.amqp.queues.consume_from.keys())
    # A prefork pool executes runs in children: they report their warm models themselves after each run.
    pool = type(getattr(controller, "pool", None)).__module__
    _presence = WorkerPresence(
        name,
        queues=queues,
        concurrency=concurrency,
        report_warm_models="prefork" not in pool,
        periodic=[collect_pack_environments_every()],
    )
    try:
        _presence.start()
    except Exception:
        logger.exception("could not register worker %s", name)


@signals.worker_shutdown.connect
def _unregister_worker(sender: Any = None, **kwargs: Any) -> None:
    if _presence is not None:
        _presence.stop()
