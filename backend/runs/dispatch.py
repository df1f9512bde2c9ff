"""Dispatchers: how a run id reaches a worker. The scheduler (``scheduling.dispatch_next``) decides *which* runs
may start; a dispatcher only carries ids to ``execute_run``.

``FLOWYARD_DISPATCHER`` chooses: ``local`` (the embedded default: a thread pool in this process) or ``celery``
(queues served by worker processes).

This module sits below the executor: it imports neither ``execution`` nor ``tasks``. The Celery dispatcher sends
the run task by name (``RUN_TASK``); the local one calls the executor the runs app registers when it is ready
(``register_local_executor``, backend/runs/apps.py).
"""

from __future__ import annotations

import abc
import functools
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections

from backend.celery import app as celery_app
from backend.runs.graphs import GraphRejected, PreparedGraph
from backend.runs.models import Run
from backend.workers_registry.catalog import live_workers
from workers.engine import GraphError

logger = logging.getLogger(__name__)

CAPACITY_SECONDS = 2.0

# The Celery task that executes a run (backend/runs/tasks.py), sent by name.
RUN_TASK = "flowyard.execute_run"

# How the local dispatcher executes a run (``execute(run_id, worker_name)``) and stops one (``cancel(run_id)``).
Execute = Callable[[Any, str], object]
Cancel = Callable[[Any], object]
_local_executor: tuple[Execute, Cancel] | None = None


def register_local_executor(execute: Execute, cancel: Cancel) -> None:
    """Name what the local dispatcher runs in its threads: ``execute_run`` and ``cancel_local`` of
    backend/runs/execution.py, registered by the runs app when it is ready. The executor calls the scheduler,
    which calls this module: that call up goes through this hook, not through an import."""
    global _local_executor
    _local_executor = (execute, cancel)


class Dispatcher(abc.ABC):
    """Carries run ids to workers."""

    @abc.abstractmethod
    def submit(self, run_id: Any, requires_gpu: bool | None = None) -> None:
        """Have a worker execute the run (it claims the run itself; submitting twice is harmless).
        ``requires_gpu``: the run's, when the caller read it already (None: the dispatcher reads it if it
        routes by it)."""

    @abc.abstractmethod
    def cancel(self, run_id: Any) -> None:
        """Tell the worker executing the run to stop now (``cancel_requested`` in the row is the fallback)."""

    def carried_run_ids(self) -> set[str] | None:
        """The ids of the runs whose message is still on its way: waiting in a queue, or held by a worker that has
        not acknowledged it. None when this dispatcher cannot tell (then no run is dispatched again)."""
        return None

    def capacity(self) -> int | None:
        """How many runs the workers behind this dispatcher execute at once; None when it cannot tell (then the
        scheduler lends no idle capacity beyond the fair-use limits)."""
        return None


class LocalDispatcher(Dispatcher):
    """Executes runs on a thread pool in this process (``FLOWYARD_LOCAL_WORKERS`` threads)."""

    def __init__(self, workers: int, execute: Execute, cancel: Cancel) -> None:
        self.workers = workers
        self._execute_run = execute
        self._cancel_run = cancel
        self.worker_name = f"local:{socket.gethostname()}:{os.getpid()}"
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="flowyard-run")
        self._futures: set[Future[None]] = set()
        self._carried: dict[Future[None], str] = {}
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)  # notified when the last submitted run finishes

    def submit(self, run_id: Any, requires_gpu: bool | None = None) -> None:
        future = self._pool.submit(self._execute, run_id)
        with self._lock:
            self._futures.add(future)
            self._carried[future] = str(run_id)
        future.add_done_callback(self._forget)

    def capacity(self) -> int:
        """The pool's threads."""
        return self.workers

    def carried_run_ids(self) -> set[str]:
        """The runs submitted to this process's pool that have not finished executing."""
        with self._lock:
            return set(self._carried.values())

    def cancel(self, run_id: Any) -> None:
        self._cancel_run(run_id)

    def _execute(self, run_id: Any) -> None:
        try:
            self._execute_run(run_id, self.worker_name)
        except Exception:
            logger.exception("executing run %s failed", run_id)
        finally:
            # Pool threads live long: never keep a connection (and its transaction state) between runs.
            connections.close_all()

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._futures.discard(future)
            self._carried.pop(future, None)
            if not self._futures:
                self._idle.notify_all()

    def busy(self) -> int:
        """How many submitted runs have not finished executing."""
        with self._lock:
            return len(self._futures)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until every submitted run (and any it started next) has finished; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._futures, timeout)


class CeleryDispatcher(Dispatcher):
    """Sends run ids to Celery workers: ``flowyard.gpu`` when a node of the run needs a GPU, else
    ``flowyard.cpu``. The task id is the run id, so a cancel can revoke a message still waiting in the queue."""

    def __init__(self) -> None:
        if not settings.CELERY_BROKER_URL:
            raise ImproperlyConfigured("FLOWYARD_DISPATCHER=celery needs REDIS_URL (or CELERY_BROKER_URL).")
        if isinstance(get_channel_layer(), InMemoryChannelLayer):
            # Events a worker process publishes would never reach this process's websockets.
            raise ImproperlyConfigured(
                "FLOWYARD_DISPATCHER=celery needs the Redis channel layer (REDIS_URL)."
            )
        self._capacity: tuple[float, int] | None = None

    def submit(self, run_id: Any, requires_gpu: bool | None = None) -> None:
        if requires_gpu is None:
            queue = self.queue_for(run_id)
        else:
            queue = settings.FLOWYARD_GPU_QUEUE if requires_gpu else settings.FLOWYARD_CPU_QUEUE
        celery_app.send_task(
            RUN_TASK,
            args=[str(run_id)],
            task_id=str(run_id),
            queue=queue,
            ignore_result=True,  # as the task declares: the message is the one apply_async would send
        )

    def cancel(self, run_id: Any) -> None:
        # The running task's recorder polls this flag (every ~0.5 s) and stops the engine cooperatively.
        Run.objects.filter(pk=run_id, status__in=[Run.Status.QUEUED, Run.Status.RUNNING]).update(
            cancel_requested=True
        )
        celery_app.control.revoke(str(run_id))

    def carried_run_ids(self) -> set[str] | None:
        """With a Redis broker: the task ids (= run ids) of the messages waiting in the run queues (each priority
        list kombu keeps) and of those delivered to a worker but not acknowledged (kombu's ``unacked`` hash, which
        also holds prefetched and retried messages); None with another broker."""
        import redis  # the client and kombu's Redis transport: only a Celery web process with Redis needs them
        from kombu.transport.redis import Channel

        url = settings.CELERY_BROKER_URL
        if not url.startswith(("redis://", "rediss://", "unix://")):
            return None
        options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", None) or {}
        steps = options.get("priority_steps", Channel.priority_steps)
        sep = options.get("sep", Channel.sep)
        unacked_key = options.get("unacked_key", Channel.unacked_key)
        queues = {settings.FLOWYARD_CPU_QUEUE, settings.FLOWYARD_GPU_QUEUE}
        lists = [queue if not step else f"{queue}{sep}{step}" for queue in queues for step in steps]
        client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        try:
            with client.pipeline(transaction=False) as pipe:
                for name in lists:
                    pipe.lrange(name, 0, -1)
                pipe.hvals(unacked_key)
                *waiting, unacked = pipe.execute()
        finally:
            client.close()
        carried: set[str] = set()
        for raw in [message for messages in waiting for message in messages]:
            carried.add(_task_id(json.loads(raw)))
        for raw in unacked:
            carried.add(_task_id(json.loads(raw)[0]))  # [message, exchange, routing key]
        carried.discard("")
        return carried

    def capacity(self) -> int:
        """The concurrency of the live workers that serve the CPU queue, read at most every
        ``CAPACITY_SECONDS`` (the scheduler asks on every pass)."""
        now = time.monotonic()
        if self._capacity is None or now - self._capacity[0] > CAPACITY_SECONDS:
            queue = settings.FLOWYARD_CPU_QUEUE
            rows = live_workers().values_list("queues", "concurrency")
            total = sum(concurrency for queues, concurrency in rows if queue in (queues or ()))
            self._capacity = (now, total)
        return self._capacity[1]

    def queue_for(self, run_id: Any) -> str:
        """The queue of workers able to run it: the GPU queue if a node of it requires a GPU (``requires_gpu``,
        decided when the run was submitted), else the CPU queue."""
        requires_gpu = Run.objects.filter(pk=run_id).values_list("requires_gpu", flat=True).first()
        return settings.FLOWYARD_GPU_QUEUE if requires_gpu else settings.FLOWYARD_CPU_QUEUE


def _task_id(message: dict[str, Any]) -> str:
    """The task id of a kombu message as Celery's protocol 2 writes it (protocol 1: in the body)."""
    headers = message.get("headers") or {}
    return str(headers.get("id") or "")


def gpu_route(prepared: PreparedGraph) -> bool:
    """Decide on submit where a run goes: True for the GPU queue, False for the CPU queue (or in-process).

    A run with a node of device "gpu" or "gpu-only" goes to the GPU queue while a live worker serves it. With
    none, "gpu" nodes run on a CPU if ``FLOWYARD_GPU_FALLBACK_TO_CPU`` allows, and "gpu-only" nodes never do:
    raise ``GraphRejected`` naming the first node that cannot run. The embedded dispatcher runs everything in
    this process, so there "a GPU" means this machine's.
    """
    if not prepared.gpu_nodes:
        return False
    embedded = settings.FLOWYARD_DISPATCHER == "local"
    if local_gpus() if embedded else gpu_workers_live():
        return True
    where = "this machine has no GPU" if embedded else "no GPU worker is online"
    for node_id, node_type, device in prepared.gpu_nodes:
        if device == "gpu-only":
            message = f"{node_type} runs only on a GPU and {where}."
            raise GraphRejected([GraphError("gpu_unavailable", message, node=node_id)])
    if settings.FLOWYARD_GPU_FALLBACK_TO_CPU:
        return False
    node_id, node_type, _ = prepared.gpu_nodes[0]
    message = (
        f"{node_type} needs a GPU and {where}; running it on a CPU is not allowed on this site "
        "(an admin may allow it: FLOWYARD_GPU_FALLBACK_TO_CPU)."
    )
    raise GraphRejected([GraphError("gpu_unavailable", message, node=node_id)])


def gpu_workers_live() -> bool:
    """True when a live worker consumes ``FLOWYARD_GPU_QUEUE`` (the registry's heartbeats say who is alive)."""
    queue = settings.FLOWYARD_GPU_QUEUE
    # A handful of rows: filtering the JSON list here works on every database.
    return any(queue in (queues or ()) for queues in live_workers().values_list("queues", flat=True))


@functools.cache
def local_gpus() -> int:
    """How many GPUs this process sees (asked once: it may import torch, which costs seconds)."""
    from backend.workers_registry.heartbeat import _gpus  # what a worker reports in its capabilities

    return len(_gpus())


_dispatchers: dict[str, Dispatcher] = {}
_dispatchers_lock = threading.Lock()


def wait_local_idle(timeout: float = 30.0) -> bool:
    """True once this process's embedded dispatcher, if one was built, executes no run (False on timeout).
    Tests wait for it before their database is emptied: a run still executing would outlive its rows."""
    dispatcher = _dispatchers.get("local")
    return not isinstance(dispatcher, LocalDispatcher) or dispatcher.wait_idle(timeout)


def get_dispatcher() -> Dispatcher:
    """The process's dispatcher for ``settings.FLOWYARD_DISPATCHER`` (built once per kind)."""
    kind = settings.FLOWYARD_DISPATCHER
    with _dispatchers_lock:
        dispatcher = _dispatchers.get(kind)
        if dispatcher is None:
            if kind == "local":
                if _local_executor is None:
                    raise ImproperlyConfigured(
                        "no local executor: the runs app registers it when it is ready"
                    )
                dispatcher = LocalDispatcher(settings.FLOWYARD_LOCAL_WORKERS, *_local_executor)
            elif kind == "celery":
                dispatcher = CeleryDispatcher()
            else:
                raise ValueError(f"FLOWYARD_DISPATCHER must be 'local' or 'celery', not {kind!r}")
            _dispatchers[kind] = dispatcher
        return dispatcher
