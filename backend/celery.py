"""The Celery app "flowyard": worker processes run ``celery -A backend worker -Q flowyard.cpu``.

Configuration comes from Django settings with the ``CELERY_`` prefix (see settings.py). Queues are named
``flowyard.cpu`` and ``flowyard.gpu``, never Celery's default ``celery``, so another app on the same Redis
database does not take our tasks.

Every worker's main process also runs the reconciliation loop (``backend.runs.recovery.Reconciler``) on a thread
of its own: it never waits behind runs in the pool, needs no broker message to start, and GPU-only workers run it
as well as CPU ones.
"""

import contextlib
import functools
import logging
import os
from typing import Any

from celery import Celery
from celery.signals import worker_init, worker_process_init, worker_ready, worker_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

logger = logging.getLogger(__name__)

app = Celery("flowyard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

RUN_TASK = "flowyard.execute_run"
AUTOMATION_TICK = "flowyard.automation.tick"
_reconciler = None


@app.on_after_configure.connect
def _automation_beat(sender: Celery, **kwargs: Any) -> None:
    """Beat sends the automation tick at the start of every minute (backend/automation/tick.py): it fires the
    due cron schedules (a row lock and one firing row per occurrence: two beats never start one twice), records
    the webhook deliveries of run ends whose signal was lost, and sends overdue deliveries."""
    from celery.schedules import crontab
    from django.conf import settings

    tick = sender.signature(AUTOMATION_TICK, queue=settings.FLOWYARD_AUTOMATION_QUEUE)
    sender.add_periodic_task(crontab(), tick, name="automation-tick")


@worker_process_init.connect
def _freeze_loaded_objects(**kwargs: Any) -> None:
    """A worker process's imports live as long as it does: keep full garbage collections from walking them."""
    from backend.gc_tuning import freeze

    freeze()


@worker_init.connect
def _keep_task_connections(**kwargs: Any) -> None:
    """Reuse a worker's database connection across tasks instead of connecting for each (~3 ms with Postgres).

    Celery's Django fixup closes every connection before and after each task. Here the task thread's connection
    is kept up to ``FLOWYARD_WORKER_CONN_MAX_AGE`` seconds, as Django keeps a request's: between tasks it is
    closed if it is unusable (errors, a transaction left open) or obsolete, and before its first query in a task
    it is health-checked. Only the task thread's connection gets that age (a copy of its settings), so the
    engine's and recorder's short-lived threads still close theirs. Pool processes still drop the connections
    inherited from the parent (the fixup's ``worker_process_init``).
    """
    from django.conf import settings

    max_age = settings.FLOWYARD_WORKER_CONN_MAX_AGE
    if max_age <= 0:
        return
    from backend.runs import publish

    publish.QUEUE_CONNECTION_MAX_AGE = max_age  # the queue positions thread keeps its connection too
    for fixup in app._fixups:  # celery.fixups.django.DjangoFixup: its worker half owns the task signals
        worker_fixup = getattr(fixup, "worker_fixup", None)
        if worker_fixup is not None:
            worker_fixup.close_database = functools.partial(_recycle_task_connections, max_age)


def _recycle_task_connections(max_age: int, **kwargs: Any) -> None:
    """Before and after each task (in the thread that runs it): keep its connections while usable and young."""
    from django.db import connections

    for alias in connections:
        conn = connections[alias]
        if conn.settings_dict.get("CONN_MAX_AGE") != max_age or not conn.settings_dict.get(
            "CONN_HEALTH_CHECKS"
        ):
            # The wrapper belongs to this thread; its settings dict is shared with every other thread's.
            conn.settings_dict = {**conn.settings_dict, "CONN_MAX_AGE": max_age, "CONN_HEALTH_CHECKS": True}
        try:
            conn.close_if_unusable_or_obsolete()
        except Exception:  # a broken connection: drop it (close() forgets it even when it fails)
            logger.warning("checking the task's database connection failed; closing it", exc_info=True)
            with contextlib.suppress(Exception):
                conn.close()


def held_run_ids() -> set[str]:
    """The runs this worker node holds now: the run tasks it has reserved (prefetched or sent to a pool process)
    or is executing, by task id (the run id) and first argument. Read in the main process, where Celery keeps
    that state; a pool process that died has had its request marked ready."""
    from celery.worker import state

    held: set[str] = set()
    for request in list(state.requests.values()):  # a copy: the consumer changes it meanwhile
        if request.name != RUN_TASK:
            continue
        held.add(str(request.id))
        if request.args:
            held.add(str(request.args[0]))
    return held


@worker_ready.connect
def _start_reconciler(sender: Any = None, **kwargs: Any) -> None:
    global _reconciler
    from django.conf import settings

    from backend.runs.recovery import Reconciler
    from backend.workers_registry import identity

    name = identity.worker_name() or f"{sender.hostname}:{os.getpid()}"
    _reconciler = Reconciler(name, held_run_ids, settings.FLOWYARD_SWEEP_SECONDS)
    _reconciler.start()
    logger.info("reconciliation loop of %s: every %.1f s", name, settings.FLOWYARD_SWEEP_SECONDS)


@worker_shutdown.connect
def _stop_reconciler(**kwargs: Any) -> None:
    if _reconciler is not None:
        _reconciler.stop()
