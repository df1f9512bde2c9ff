"""Executing a run: claim it, run the engine, record its events in batches, finish it, start the next.

``execute_run(run_id, worker_name)`` is what every dispatcher calls (the local thread pool, a Celery task). It
claims the run with a conditional UPDATE, so a second delivery of the same id does nothing.

The engine emits an event per state change (three or more per node). ``EventRecorder`` buffers them and a
background thread writes each batch (at most one per ``FLUSH_SECONDS``, or at 200 events; an event after a quiet
spell goes at once) in one transaction: one ``bulk_create`` of
events (and of outputs), one ``bulk_update`` of the node rows that changed, one update of the run; then it
publishes the batch with one call. The same thread polls ``cancel_requested`` every ~0.5 s. A run that ends
within ``FLUSH_SECONDS`` (most small runs) never gets that thread: the run's own thread writes all its events
in one batch when it closes the recorder (``_LateStarts`` starts the thread only for runs still going).
"""

from __future__ import annotations

import copy
import functools
import gc
import heapq
import io
import json
import logging
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from django.conf import settings
from django.db import DatabaseError, connection, models, transaction
from django.db.models import F, Field
from django.db.models.functions import Coalesce
from django.utils import timezone

from backend.core.json_text import json_texter
from backend.gc_tuning import (
    DEFER_FOR_RUN_NODES,
    DEFER_RUN_SECONDS,
    collections_deferred,
    freeze_after_first_run,
)
from backend.runs.files import files_for_workspace
from backend.runs.models import NodeRun, Run, RunEvent, RunOutput
from backend.runs.nodes import registry_for_workspace
from backend.runs.publish import publish_run_events
from backend.runs.retries import retry_database
from backend.runs.signals import run_finished
from backend.workers_registry.process import cache_store_for_worker, worker_models
from nodepacks.sdk import UI
from workers.engine import Engine, Event, parse_graph

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 0.02
# A recorder's writer thread starts this long after the run began, if the run is still going then.
LATE_START_SECONDS = FLUSH_SECONDS
FLUSH_EVENTS = 200
CANCEL_POLL_SECONDS = 0.5
# From this many nodes changed alike in one batch: one UPDATE ... WHERE id IN rather than a VALUES row each.
SAME_CHANGE_ROWS = 8
# Below this many rows a batch's node rows are written in one statement whatever columns each changed.
SPLIT_COLUMNS_ROWS = 64
PREVIEW_EVERY_SECONDS = 0.25  # at most one stored preview per node per interval; later ones are dropped
PREVIEW_MAX_SIDE = 512
PREVIEW_JPEG_QUALITY = 90
TRACEBACK_CHARS = 20_000
ERROR_SUMMARY_CHARS = 2_000

_NODE_FIELDS = [
    "status",
    "started",
    "finished",
    "duration",
    "progress_value",
    "progress_max",
    "error",
    "error_type",
    "traceback",
    "outputs",
]


class _NodeRow:
    """The fields of a node row the recorder folds events into: a ``NodeRun`` without the model machinery,
    whose instantiation cost ~0.2 ms per row (100 ms for a 500-node run before its first event was stored)."""

    __slots__ = ("id", "node_id", "node_type", *_NODE_FIELDS)

    id: int
    node_id: str
    node_type: str
    status: str
    started: datetime | None
    finished: datetime | None
    duration: float | None
    progress_value: float | None
    progress_max: float | None
    error: str
    error_type: str
    traceback: str
    outputs: list[Any]

    def __init__(self, values: tuple[Any, ...]) -> None:
        for name, value in zip(self.__slots__, values, strict=True):
            setattr(self, name, value)


# Cancel events of the runs this process is executing, so a local cancel needs no database round trip.
_active: dict[str, threading.Event] = {}
_active_lock = threading.Lock()


def cancel_local(run_id: Any) -> bool:
    """Stop the run now if this process executes it; True if it did (otherwise the recorder's poll will)."""
    with _active_lock:
        event = _active.get(str(run_id))
    if event is None:
        return False
    event.set()
    return True


def execute_run(run_id: Any, worker_name: str = "") -> str | None:
    """Claim and execute the run; return its final status, or None if it was not queued (already claimed)."""
    from backend.runs.scheduling import dispatch_next

    # A database blip at the claim is ridden out here; if it lasts, the error reaches the caller, which gives the
    # message back (tasks.py) rather than acknowledging a run that never started.
    claimed, run = retry_database(lambda: _claim(run_id, worker_name), f"claiming run {run_id}")
    if not claimed:
        return None
    if run is None:
        run = retry_database(lambda: Run.objects.get(pk=run_id), f"loading run {run_id}")
    cancel = threading.Event()
    if run.cancel_requested:
        cancel.set()
    with _active_lock:
        _active[str(run.pk)] = cancel
    # A large run's graph, engine state and events would be walked by every collection while it runs (15-25%
    # of a 5,000-chain's CPU); they are freed before collections resume (backend/gc_tuning.py).
    large = len((run.graph or {}).get("nodes") or ()) >= DEFER_FOR_RUN_NODES
    try:
        with collections_deferred(large, at_most=DEFER_RUN_SECONDS):
            status = _execute(run, cancel)
            if large:
                run.graph = None  # not read again here
    finally:
        with _active_lock:
            _active.pop(str(run.pk), None)
    if status == Run.Status.AWAITING_APPROVAL:
        from backend.approvals.actions import request_approvals

        retry_database(lambda: request_approvals(run.pk), f"requesting the approvals of run {run_id}")
    if status in Run.FINISHED:  # committed by now: webhooks and approvals listen (backend/runs/signals.py)
        transaction.on_commit(lambda: run_finished.send(sender=Run, run_id=run.pk, status=status))
    if status != Run.Status.SUCCEEDED:
        release_gpu_memory()
    retry_database(dispatch_next, f"starting the runs waiting after run {run_id}")
    freeze_after_first_run()  # the first run loaded the node packs: keep full collections off them
    return status


def release_gpu_memory() -> bool:
    """Give the GPU memory a cancelled or failed run left cached back to the device; True if there was CUDA.

    A cancelled sampler's tensors die with its frames, but torch's allocator keeps their blocks for reuse:
    other processes on the GPU (and ``nvidia-smi``) would see the memory as taken. Only when torch is already
    imported and CUDA started: a run that never touched torch must not pay seconds to import it.
    """
    torch = sys.modules.get("torch")
    cuda = getattr(torch, "cuda", None)
    if cuda is None or not cuda.is_initialized():
        return False
    gc.collect()  # tensors held by reference cycles (a traceback's frames) are freed only by the collector
    cuda.empty_cache()
    return True


def _claim(run_id: Any, worker_name: str) -> tuple[bool, Run | None]:
    """Take a queued run, or a running one whose worker is gone (a redelivered message): whether it was taken, and
    the run as taken when that was read with it.

    A queued run is taken and read in one statement (``UPDATE ... RETURNING``): the run's row, not its workspace
    (executing needs the workspace's id alone)."""
    from backend.runs.recovery import claim_from_lost_worker

    worker = worker_name[:200]
    now = timezone.now()
    # Where inserts return columns (SQLite >= 3.35, Postgres), updates do too.
    if connection.features.can_return_columns_from_insert:
        pk = Run._meta.pk
        assert pk is not None
        stamp = Run._meta.get_field("started").get_db_prep_value(now, connection)
        run_pk = pk.get_db_prep_value(run_id, connection)
        params = [Run.Status.RUNNING, stamp, stamp, worker, run_pk, Run.Status.QUEUED]
        taken = list(Run.objects.raw(_claim_sql(), params))
        if taken:
            return True, taken[0]
    elif Run.objects.filter(pk=run_id, status=Run.Status.QUEUED).update(
        status=Run.Status.RUNNING,
        # A resumed run keeps its first start: its duration covers every attempt.
        started=Coalesce(F("started"), now),
        dispatched=Coalesce(F("dispatched"), now),
        worker=worker,
        attempts=F("attempts") + 1,
    ):
        return True, None
    return claim_from_lost_worker(run_id, worker), None


_claim_sqls: dict[str, str] = {}


def _claim_sql() -> str:
    """The claim of a queued run as SQL, written once per database vendor (the ORM cannot return an update's rows).
    A resumed run keeps its first start and dispatch: its duration covers every attempt."""
    sql = _claim_sqls.get(connection.vendor)
    if sql is None:
        q = connection.ops.quote_name
        columns = ", ".join(q(field.column) for field in Run._meta.concrete_fields)
        sql = (
            f"UPDATE {q(Run._meta.db_table)} SET {q('status')} = %s, "
            f"{q('started')} = COALESCE({q('started')}, %s), {q('dispatched')} = COALESCE({q('dispatched')}, %s), "
            f"{q('worker')} = %s, {q('attempts')} = {q('attempts')} + 1 "
            f"WHERE {q('id')} = %s AND {q('status')} = %s RETURNING {columns}"
        )
        _claim_sqls[connection.vendor] = sql
    return sql


def _execute(run: Run, cancel: threading.Event) -> str:
    recorder = EventRecorder(run, cancel)
    recorder.start()
    crash: str | None = None
    result = None
    try:
        # The pack versions the graph was validated with when it was submitted, even if the team upgraded
        # since (a run recorded before runs kept them: its workflow version's, the ones it was built with).
        pinned = run.packs or (run.workflow_version.packs if run.workflow_version is not None else None)
        registry = registry_for_workspace(run.workspace_id, pinned)
        engine = Engine(
            registry,
            cache_store_for_worker(registry),
            parallelism=settings.FLOWYARD_PARALLELISM,
            files=files_for_workspace(run.workspace_id),
            models=worker_models(),
            scratch_root=settings.VAR_DIR / "scratch",
        )
        # Validated when submitted (prepare_graph): the stored graph holds checked, coerced constants.
        result = engine.run(
            parse_graph(run.graph),
            outputs=run.outputs,
            on_event=recorder,
            cancel=cancel,
            validate=False,
            decisions=_decisions(run),
        )
    except Exception as exc:
        logger.exception("run %s crashed", run.pk)
        crash = f"The run stopped unexpectedly: {type(exc).__name__}: {exc}"
    finally:
        if not recorder.finished:
            recorder.synthesize("run_finished", {"status": "failed", "error": crash or "The engine stopped."})
        recorder.close()
        if recorder.previews:
            # What each watching socket received for previews (a binary frame adds 8 bytes, or the metadata).
            logger.info("run %s: %d previews, %d bytes", run.pk, recorder.previews, recorder.preview_bytes)
    if result is not None and result.status == "invalid":
        error = "; ".join(str(error) for error in result.errors)
        retry_database(
            lambda: Run.objects.filter(pk=run.pk).update(
                error=f"The graph cannot run: {error}"[:ERROR_SUMMARY_CHARS]
            ),
            f"recording why run {run.pk} cannot run",
        )
    if recorder.error is not None:
        # The recorder could not write (the run may have been deleted, or taken over by another worker after
        # this one was presumed lost): finish the row if it still exists and is still ours.
        retry_database(
            lambda: Run.objects.filter(pk=run.pk, status=Run.Status.RUNNING, worker=run.worker).update(
                status=Run.Status.FAILED,
                finished=timezone.now(),
                error=f"Recording the run's events failed: {recorder.error}"[:ERROR_SUMMARY_CHARS],
            ),
            f"finishing run {run.pk}",
        )
    if recorder.error is None and run.is_finished():
        return run.status  # the recorder wrote it with the run's last event
    return (
        retry_database(
            lambda: Run.objects.filter(pk=run.pk).values_list("status", flat=True).first(),
            f"reading the final status of run {run.pk}",
        )
        or Run.Status.FAILED
    )


def _decisions(run: Run) -> dict[str, str] | None:
    """The approval decisions a resumed run's Approval nodes see; a first attempt has none (no query)."""
    if run.attempts < 2:
        return None
    from backend.approvals.models import decisions_for

    return decisions_for(run.pk)


class _EventRow:
    """A ``RunEvent`` row to insert, without the model machinery (~10 µs an instance: 15,000 for a 5,000-node
    run)."""

    __slots__ = ("seq", "type", "node", "data", "time")

    def __init__(self, seq: int, type: str, node: str | None, data: dict[str, Any], time: float) -> None:
        self.seq, self.type, self.node, self.data, self.time = seq, type, node, data, time

    def to_json(self) -> dict[str, Any]:
        """The event as clients receive it (``RunEvent.to_json``)."""
        return {"seq": self.seq, "type": self.type, "node": self.node, "data": self.data, "time": self.time}


@dataclass
class _Pending:
    """An event being written: its row, and the outputs whose ids go into its data once they exist."""

    row: _EventRow
    outputs: list[RunOutput]
    preview: RunOutput | None = None


class EventRecorder:
    """Receives engine events on any thread; a background thread stores and publishes them in batches.

    ``flushes`` and ``queries`` count what it did (tests bound them). ``error`` holds why writing stopped, if it
    did (the run is then cancelled: events that cannot be stored must not be produced).
    """

    def __init__(
        self,
        run: Run,
        cancel: threading.Event,
        *,
        publish: Callable[[Run, list[dict[str, Any]]], None] | None = None,
    ) -> None:
        self.run = run
        self.cancel = cancel
        # Looked up when called, so the seam can be replaced (tests, another transport) without touching this.
        self.publish = publish or (lambda run, events: publish_run_events(run, events))
        if run.attempts <= 1 and run.last_seq == 0:
            self.node_runs = fresh_node_rows(run.pk)
        else:  # an earlier attempt, or the part before an approval, changed them
            self.node_runs = {
                row[1]: _NodeRow(row)
                for row in NodeRun.objects.filter(run=run).values_list(*_NodeRow.__slots__)
            }
        self.flushes = 0
        self.queries = 0
        self.events = 0
        self.finished = False
        self.error: str | None = None
        # Taken as is where nobody waits (buffering an event): a Condition's own ``with`` costs two calls.
        self._lock = threading.Lock()
        self._condition = threading.Condition(self._lock)
        self._buffer: list[Event] = []
        self._first_buffered = 0.0
        self._closed = False
        # Engine events count from 1; a run whose log already has events (an earlier attempt) continues after.
        self._offset = run.last_seq
        self._seq = run.last_seq
        self._failures: list[str] = []
        self._last_preview: dict[str, float] = {}
        self._previewed: set[str] = set()  # nodes with a stored preview
        self.previews = 0  # previews stored, and their bytes (what each live client receives, once)
        self.preview_bytes = 0
        # A resumed run (an earlier attempt's worker was lost): nodes whose results were stored then are not
        # stored twice when the engine reports them again from the cache.
        self._has_results: set[str] = set()
        if run.attempts > 1:
            self._has_results = set(
                RunOutput.objects.filter(run=run)
                .exclude(kind=RunOutput.Kind.PREVIEW)
                .values_list("node_id", flat=True)
                .distinct()
            )
            self._previewed = set(
                RunOutput.objects.filter(run=run, kind=RunOutput.Kind.PREVIEW).values_list(
                    "node_id", flat=True
                )
            )
        self._thread = threading.Thread(target=self._loop, name=f"flowyard-recorder-{run.pk}", daemon=True)
        # "new", then "waiting" (started), then "running" (its thread writes) or "inline" (closed first)
        self._thread_state = "new"

    # The engine's side

    def __call__(self, event: Event) -> None:
        """Buffer one engine event (called under the engine's sink lock: keep it cheap)."""
        with self._lock:
            if not self._buffer:
                self._first_buffered = time.monotonic()
                self._condition.notify()
            self._buffer.append(event)
            self._seq = event.seq + self._offset
            if event.type == "run_finished":
                self.finished = True
                self._condition.notify()
            elif len(self._buffer) >= FLUSH_EVENTS:
                self._start_thread_locked()
                self._condition.notify()

    def synthesize(self, type: str, data: dict[str, Any], node: str | None = None) -> None:
        """Add an event the engine did not emit (the run crashed before its ``run_finished``)."""
        with self._condition:
            seq = self._seq + 1 - self._offset
        self(Event(seq, type, node, data, time.time()))

    def start(self) -> None:
        """Begin recording: the writer thread starts ``LATE_START_SECONDS`` from now unless the run ends first."""
        with self._condition:
            self._thread_state = "waiting"
        _late_starts.add(self, time.monotonic() + LATE_START_SECONDS)

    def start_thread(self) -> None:
        """Start the writer thread now, unless it runs already or the recorder was closed."""
        with self._condition:
            self._start_thread_locked()

    def _start_thread_locked(self) -> None:
        if self._thread_state == "waiting":
            self._thread_state = "running"
            self._thread.start()

    def close(self) -> None:
        """Write what is buffered and stop the thread (or, if it never started, write here)."""
        with self._condition:
            self._closed = True
            inline = self._thread_state != "running"
            if inline:
                self._thread_state = "inline"
            self._condition.notify()
        if not inline:
            self._thread.join()
            return
        with self._condition:
            batch, self._buffer = self._buffer, []
        if batch and self.error is None:
            self._write(batch)

    # The writer thread

    def _loop(self) -> None:
        next_poll = time.monotonic() + CANCEL_POLL_SECONDS
        # At most one batch per FLUSH_SECONDS (or per FLUSH_EVENTS), counted from the previous write: an event
        # after a quiet spell is written and published at once instead of waiting out a batch window, while a
        # busy run still costs one write per window. The run's last event does not wait: nothing follows it.
        last_write = -FLUSH_SECONDS
        try:
            while True:
                with self._condition:
                    while not self._closed and len(self._buffer) < FLUSH_EVENTS:
                        if self.finished and self._buffer:
                            break
                        now = time.monotonic()
                        deadline = last_write + FLUSH_SECONDS if self._buffer else next_poll
                        if deadline <= now:
                            break
                        self._condition.wait(deadline - now)
                    batch, self._buffer = self._buffer, []
                    closing = self._closed
                if batch and self.error is None:
                    last_write = time.monotonic()
                    self._write(batch)
                if not closing and time.monotonic() >= next_poll:
                    next_poll = time.monotonic() + CANCEL_POLL_SECONDS
                    self._poll_cancel()
                if closing:
                    with self._condition:
                        if not self._buffer:
                            return
        finally:
            connection.close()

    def _poll_cancel(self) -> None:
        if self.cancel.is_set():
            return
        try:
            if Run.objects.filter(pk=self.run.pk, cancel_requested=True).exists():
                self.cancel.set()
        except DatabaseError:
            logger.exception("could not check whether run %s was cancelled", self.run.pk)

    def _write(self, batch: list[Event]) -> None:
        try:
            with connection.execute_wrapper(self._count_query):
                events_json = self._store(batch)
        except Exception as exc:
            logger.exception("could not record %d events of run %s; stopping it", len(batch), self.run.pk)
            self.error = f"{type(exc).__name__}: {exc}"
            self.cancel.set()
            return
        self.flushes += 1
        self.events += len(batch)
        try:
            self.publish(self.run, events_json)
        except Exception:
            logger.exception("could not publish events of run %s", self.run.pk)

    def _count_query(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
    ) -> Any:
        self.queries += 1
        return execute(sql, params, many, context)

    def _store(self, batch: list[Event]) -> list[dict[str, Any]]:
        """Write one batch in one transaction; return the events as clients receive them."""
        offset = self._offset
        pending: list[_Pending] = []
        dirty: dict[str, set[str]] = {}  # node id -> the fields this batch changed
        final: dict[str, Any] = {}
        for event in batch:
            row = _EventRow(event.seq + offset, event.type, event.node, dict(event.data), event.time)
            item = _Pending(row, [])
            self._apply(event, row, item, dirty, final)
            pending.append(item)
        # The batch's events are folded in memory once; only the transaction is retried through a database
        # blip, so the terminal state lands once the database is back instead of being lost.
        changes, replaced = retry_database(
            lambda: self._commit(pending, dirty, final), f"recording events of run {self.run.pk}"
        )
        for name, value in changes.items():
            setattr(self.run, name, value)
        if replaced:
            self._collect(replaced)
        return [item.row.to_json() for item in pending]

    def _commit(
        self, pending: list[_Pending], dirty: dict[str, set[str]], final: dict[str, Any]
    ) -> tuple[dict[str, Any], set[str]]:
        """Write one folded batch in one transaction; return the run's changed fields and the blobs of the
        previews it replaced. Safe to call again after a failed try: the transaction left nothing behind."""
        outputs = [output for item in pending for output in item.outputs]
        # Durable: a batch is published after it is committed, and retry_database retries only outside a
        # transaction.
        with transaction.atomic(durable=True):
            previews, replaced = self._drop_older_previews(pending)
            outputs += previews
            if outputs:
                RunOutput.objects.bulk_create(outputs, batch_size=500)
                for item in pending:
                    if item.outputs:
                        item.row.data["results"] = [output.to_ref() for output in item.outputs]
                    if item.preview is not None:
                        item.row.data["preview"] = item.preview.to_ref()
            insert_run_events(self.run.pk, [item.row for item in pending])
            if dirty:
                self._write_nodes(dirty)
            last_seq = pending[-1].row.seq
            changes = {"last_seq": last_seq, **final}
            # Fenced by worker: a worker presumed lost (its run handed to another) must not write over it.
            updated = update_own_run(self.run.pk, self.run.worker, changes)
            if not updated:
                raise Run.DoesNotExist(f"run {self.run.pk} no longer exists or another worker took it over")
        return changes, replaced

    def _drop_older_previews(self, pending: list[_Pending]) -> tuple[list[RunOutput], set[str]]:
        """Keep only the latest preview of each node (a 1,000-step sampler must not leave 1,000 images): return
        this batch's previews to store, one per node, having deleted the stored ones they replace, and the blobs
        of what was dropped."""
        latest: dict[str, _Pending] = {}
        dropped: set[str] = set()
        for item in pending:
            if item.preview is None:
                continue
            earlier = latest.get(item.preview.node_id)
            if earlier is not None and earlier.preview is not None:  # two in one batch: the later one wins
                dropped.add(earlier.preview.blob_sha or "")
                earlier.preview = None
            latest[item.preview.node_id] = item
        nodes = set(latest)
        if nodes & self._previewed:
            older = RunOutput.objects.filter(
                run_id=self.run.pk, kind=RunOutput.Kind.PREVIEW, node_id__in=nodes & self._previewed
            )
            dropped.update(
                sha for sha in older.exclude(blob_sha=None).values_list("blob_sha", flat=True) if sha
            )
            older.delete()
        self._previewed |= nodes
        dropped.discard("")
        return [item.preview for item in latest.values() if item.preview is not None], dropped

    def _collect(self, shas: set[str]) -> None:
        """Delete the replaced previews' blobs now unless something else refers to them."""
        from backend.storage.references import collect_unreferenced_blobs

        try:
            collect_unreferenced_blobs(shas, grace_seconds=0)
        except Exception:
            logger.exception("could not delete the replaced previews of run %s", self.run.pk)

    def _apply(
        self,
        event: Event,
        row: _EventRow,
        item: _Pending,
        dirty: dict[str, set[str]],
        final: dict[str, Any],
    ) -> None:
        """Fold one event into the node rows (and the run's final state), and turn its UI into outputs."""
        at = datetime.fromtimestamp(event.time, tz=UTC)
        nodes = self.node_runs
        data = event.data
        kind = event.type
        Status = NodeRun.Status
        node: _NodeRow | None

        def change(node_id: str | None, **fields: Any) -> None:
            node = nodes.get(node_id) if node_id is not None else None
            if node is None:
                return
            for name, value in fields.items():
                setattr(node, name, value)
            dirty.setdefault(node.node_id, set()).update(fields)

        if kind == "run_started":
            planned = set(data.get("nodes", ()))
            for node_id, node in nodes.items():
                if node_id not in planned and node.status == Status.QUEUED:
                    # Not planned: a node downstream of it comes from the cache, so its result is not needed.
                    change(node_id, status=Status.CACHED, finished=at)
        elif kind == "nodes_cached":
            for node_id in data.get("nodes", ()):
                node = nodes.get(node_id)
                if node is not None and node.status == Status.SUCCEEDED:
                    continue  # executed by an earlier attempt of this run: it stays executed
                change(node_id, status=Status.CACHED, finished=at)
        elif kind == "node_started":
            change(event.node, status=Status.RUNNING, started=at)
        elif kind == "progress":
            change(event.node, progress_value=data.get("value"), progress_max=data.get("max"))
            if event.preview is not None and event.node is not None:
                item.preview = self._preview(event.node, event.preview)
        elif kind == "node_finished":
            node = nodes.get(event.node or "")
            cached = bool(data.get("cached"))
            fields: dict[str, Any] = {
                "status": Status.CACHED if cached else Status.SUCCEEDED,
                "finished": at,
                "outputs": data.get("outputs", []),
            }
            if not cached:
                fields["duration"] = data.get("duration")
            if node is not None and node.progress_max:
                fields["progress_value"] = node.progress_max
            if cached and node is not None and node.status == Status.SUCCEEDED:
                fields["status"] = Status.SUCCEEDED  # executed by an earlier attempt of this run
            change(event.node, **fields)
            if event.ui is not None and event.node is not None and event.node not in self._has_results:
                item.outputs = self._ui_outputs(event.node, event.ui)
        elif kind == "node_paused":  # an approval step: what it shows the approvers is stored like results
            change(event.node, status=Status.AWAITING, duration=data.get("duration"))
            if event.ui is not None and event.node is not None and event.node not in self._has_results:
                item.outputs = self._ui_outputs(event.node, event.ui)
        elif kind == "node_failed":
            error = str(data.get("error", ""))
            tb = data.get("traceback") or ""
            if len(tb) > TRACEBACK_CHARS:
                tb = "…" + tb[-TRACEBACK_CHARS:]
                row.data["traceback"] = tb
            change(
                event.node,
                status=Status.FAILED,
                finished=at,
                duration=data.get("duration"),
                error=error,
                error_type=str(data.get("error_type", "")),
                traceback=tb,
            )
            node = nodes.get(event.node or "")
            label = f"node {event.node}" + (f" ({node.node_type})" if node is not None else "")
            self._failures.append(f"{label} failed: {error}")
        elif kind == "nodes_skipped":
            status = Status.CANCELLED if data.get("reason") == "cancelled" else Status.SKIPPED
            for node_id in data.get("nodes", ()):
                change(node_id, status=status, finished=at)
        elif kind == "run_finished" and data.get("status") == "paused":
            # Not finished: it waits for approval (backend/approvals) holding no worker; the nodes that did not run
            # stay queued for the attempt that resumes it. Clients see a "run_paused" event.
            row.type = "run_paused"
            final.update(status=Run.Status.AWAITING_APPROVAL)
        elif kind == "run_finished":
            run_status = {"succeeded": Run.Status.SUCCEEDED, "cancelled": Run.Status.CANCELLED}.get(
                str(data.get("status")), Run.Status.FAILED
            )
            leftover = Status.CANCELLED if run_status == Run.Status.CANCELLED else Status.SKIPPED
            for node_id, node in nodes.items():
                if node.status in (Status.QUEUED, Status.RUNNING):
                    change(node_id, status=leftover, finished=at)
            final.update(status=run_status, finished=timezone.now(), error=self._summary(run_status, data))

    def _write_nodes(self, dirty: dict[str, set[str]]) -> None:
        """Write the node rows a batch changed: one ``UPDATE ... WHERE id IN`` per set of nodes that took the same
        values (a cached run marks hundreds of nodes cached at one instant), one bulk update for the rest."""
        alike: dict[tuple[tuple[str, ...], tuple[Any, ...]], list[_NodeRow]] = {}
        rest: list[_NodeRow] = []
        for node_id, changed in dirty.items():
            node = self.node_runs[node_id]
            names = tuple(sorted(changed))
            values = tuple(getattr(node, name) for name in names)
            if any(isinstance(value, (dict, list)) for value in values):
                rest.append(node)  # outputs: not comparable cheaply, and unique to the node anyway
            else:
                alike.setdefault((names, values), []).append(node)
        for (names, values), nodes in alike.items():
            if len(nodes) < SAME_CHANGE_ROWS:
                rest.extend(nodes)
                continue
            NodeRun.objects.filter(pk__in=[node.id for node in nodes]).update(
                **dict(zip(names, values, strict=True))
            )
        # The rest: the columns each row changed, one statement per set of changed columns (a chain's batch has
        # two or three: started, finished, both), not all ten for every row. A small batch (a small run's one
        # batch) writes the union of its columns in one statement instead: a statement costs more than the
        # columns it saves there (every value written is the row's current one, so the result is the same).
        by_fields: dict[tuple[str, ...], list[_NodeRow]] = {}
        for node in rest:
            by_fields.setdefault(_changed_fields(dirty[node.node_id]), []).append(node)
        if len(by_fields) > 1 and len(rest) < SPLIT_COLUMNS_ROWS:
            union: set[str] = set().union(*by_fields)
            by_fields = {_changed_fields(union): rest}
        for fields, nodes in by_fields.items():
            update_node_runs(nodes, fields=fields)

    def _summary(self, status: str, data: dict[str, Any]) -> str:
        if status == Run.Status.SUCCEEDED:
            return ""
        if status == Run.Status.CANCELLED:
            return "Cancelled."
        if data.get("error"):
            return str(data["error"])[:ERROR_SUMMARY_CHARS]
        if not self._failures:
            return "The run failed."
        summary = self._failures[0]
        if len(self._failures) > 1:
            summary += (
                f" (and {len(self._failures) - 1} more failed node{'s' if len(self._failures) > 2 else ''})"
            )
        return summary[:ERROR_SUMMARY_CHARS]

    def _ui_outputs(self, node_id: str, ui: UI) -> list[RunOutput]:
        """Store each image frame as a PNG blob and each encoded file (video, audio...) as it is; return output rows
        for them, text and data (unsaved)."""
        from backend.storage.blobs import get_blob_store
        from workers.runtime.media import content_type_for, frame_to_png, image_frames

        store = get_blob_store()
        outputs: list[RunOutput] = []
        prefix = (ui.filename_prefix or "flowyard").replace("\\", "/").strip("/").replace(
            "/", "_"
        ) or "flowyard"
        frame_index = 0
        for batch in ui.images:
            for frame in image_frames(np.asarray(batch)):
                png = frame_to_png(frame)
                outputs.append(
                    RunOutput(
                        run_id=self.run.pk,
                        node_id=node_id,
                        index=frame_index,
                        kind=RunOutput.Kind.IMAGE,
                        blob_sha=store.put(png),
                        filename=f"{prefix}_{frame_index + 1:05d}.png",
                        content_type="image/png",
                        size=len(png),
                        saved=ui.saved,
                    )
                )
                frame_index += 1
        counts: dict[str, int] = {"image": frame_index}  # the RunOutput.Kind values of MediaFile kinds
        for file in ui.files:
            kind = file.kind if file.kind in ("video", "audio", "image") else "file"
            index = counts.get(kind, 0)
            counts[kind] = index + 1
            outputs.append(
                RunOutput(
                    run_id=self.run.pk,
                    node_id=node_id,
                    index=index,
                    kind=kind,
                    blob_sha=store.put(file.data),
                    filename=f"{prefix}_{index + 1:05d}.{file.format}",
                    content_type=content_type_for(file.format),
                    size=len(file.data),
                    saved=ui.saved,
                )
            )
        for index, text in enumerate(ui.text):
            outputs.append(
                RunOutput(
                    run_id=self.run.pk,
                    node_id=node_id,
                    index=index,
                    kind=RunOutput.Kind.TEXT,
                    text=str(text),
                    saved=ui.saved,
                )
            )
        if ui.data:
            outputs.append(
                RunOutput(
                    run_id=self.run.pk,
                    node_id=node_id,
                    kind=RunOutput.Kind.JSON,
                    data=json.loads(json.dumps(dict(ui.data), default=str)),
                    saved=ui.saved,
                )
            )
        return outputs

    def _preview(self, node_id: str, preview: np.ndarray) -> RunOutput | None:
        """A small JPEG of a progress preview, or None when too soon after the last one or too big."""
        now = time.monotonic()
        if now - self._last_preview.get(node_id, -PREVIEW_EVERY_SECONDS) < PREVIEW_EVERY_SECONDS:
            return None
        from backend.storage.blobs import get_blob_store
        from workers.runtime.media import image_frames

        try:
            frame = image_frames(np.asarray(preview))[0]
            jpeg = encode_preview(frame)
        except Exception:
            logger.warning("run %s node %s sent a preview that is not an image", self.run.pk, node_id)
            return None
        if len(jpeg) > settings.FLOWYARD_MAX_PREVIEW_BYTES:
            return None
        self._last_preview[node_id] = now
        self.previews += 1
        self.preview_bytes += len(jpeg)
        return RunOutput(
            run_id=self.run.pk,
            node_id=node_id,
            index=0,
            kind=RunOutput.Kind.PREVIEW,
            blob_sha=get_blob_store().put(jpeg),
            filename=f"preview-{node_id}-{uuid.uuid4().hex[:8]}.jpg",
            content_type="image/jpeg",
            size=len(jpeg),
        )


class _LateStarts:
    """One thread per process that starts recorders' writer threads when their run outlasts
    ``LATE_START_SECONDS``, so that a short run costs no thread of its own."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._due: list[tuple[float, int, EventRecorder]] = []
        self._count = 0
        self._thread: threading.Thread | None = None

    def add(self, recorder: EventRecorder, at: float) -> None:
        with self._condition:
            self._count += 1
            heapq.heappush(self._due, (at, self._count, recorder))
            if self._thread is None or not self._thread.is_alive():  # also after a fork
                self._thread = threading.Thread(
                    target=self._loop, name="flowyard-recorder-starts", daemon=True
                )
                self._thread.start()
            self._condition.notify()

    def _loop(self) -> None:
        while True:
            with self._condition:
                while not self._due or self._due[0][0] > time.monotonic():
                    self._condition.wait(self._due[0][0] - time.monotonic() if self._due else None)
                _, _, recorder = heapq.heappop(self._due)
            try:
                recorder.start_thread()
            except Exception:
                logger.exception("could not start the event writer of run %s", recorder.run.pk)


_late_starts = _LateStarts()


def _pg_default(value: Any) -> Any:
    if type(value) is datetime and value.tzinfo is not None:
        return value.isoformat()  # timestamptz reads the offset: the same instant
    raise TypeError(f"{type(value).__name__} is not sent as JSON")


# Rows sent to Postgres as one JSON text (an array of arrays) that the statement takes apart: psycopg (its Python
# implementation, here) quoted each of a batch's ~1,000 parameters or array items one Python call at a time, half
# the recorder's CPU on Postgres. No NaN or infinity (not JSON; such rows take the parameter path).
_pg_json = json_texter(separators=(",", ":"), default=_pg_default, allow_nan=False)


def _pg_records_text(records: Iterable[list[Any]]) -> str | None:
    """``records`` as one JSON array for Postgres, or None when a value cannot travel that way exactly."""
    try:
        return _pg_json(list(records))
    except (TypeError, ValueError):
        return None


def fresh_node_rows(run_id: Any) -> dict[str, _NodeRow]:
    """The node rows of a run nothing was recorded for yet, by node id: as submitted (``insert_node_runs``: every
    field at its default), so only their ids and types are read, by SQL written once per vendor (the ORM's compile
    of the full read cost ~1 ms a run)."""
    with connection.cursor() as cursor:
        cursor.execute(
            _fresh_node_rows_sql(connection.vendor),
            [_column_field("run").get_db_prep_value(run_id, connection)],
        )
        found = cursor.fetchall()
    defaults = [_column_field(name).get_default() for name in _NODE_FIELDS]
    mutable = [index for index, value in enumerate(defaults) if isinstance(value, list | dict)]
    rows: dict[str, _NodeRow] = {}
    for row_id, node_id, node_type in found:
        values = [row_id, node_id, node_type, *defaults]
        for index in mutable:
            values[3 + index] = copy.copy(defaults[index])  # a row's own list: the recorder appends to it
        rows[node_id] = _NodeRow(tuple(values))
    return rows


@functools.cache
def _fresh_node_rows_sql(vendor: str) -> str:
    q = connection.ops.quote_name
    columns = ", ".join(q(_column_field(name).column) for name in ("id", "node_id", "node_type"))
    table, run = q(NodeRun._meta.db_table), q(_column_field("run").column)
    position = q(_column_field("position").column)
    return f"SELECT {columns} FROM {table} WHERE {run} = %s ORDER BY {position}"  # the model's order


def update_own_run(run_id: Any, worker: str, changes: dict[str, Any]) -> int:
    """``Run.objects.filter(pk=run_id, worker=worker).update(**changes)`` (fenced by worker: a worker presumed
    lost must not write over the run's new owner), as one statement written once per database vendor and set of
    columns: the ORM compiled it for every batch of events and at every run's end. Returns the rows updated."""
    if connection.vendor not in ("postgresql", "sqlite"):
        return Run.objects.filter(pk=run_id, worker=worker).update(**changes)
    params = [_column_field(name, Run).get_db_prep_save(value, connection) for name, value in changes.items()]
    params += [_column_field("id", Run).get_db_prep_value(run_id, connection), worker]
    with connection.cursor() as cursor:
        cursor.execute(_update_own_run_sql(connection.vendor, tuple(changes)), params)
        return int(cursor.rowcount)


@functools.lru_cache(maxsize=32)
def _update_own_run_sql(vendor: str, names: tuple[str, ...]) -> str:
    q = connection.ops.quote_name
    assigned = ", ".join(f"{q(_column_field(name, Run).column)} = %s" for name in names)
    pk, worker = (q(_column_field(name, Run).column) for name in ("id", "worker"))
    return f"UPDATE {q(Run._meta.db_table)} SET {assigned} WHERE {pk} = %s AND {worker} = %s"


def insert_run_events(run_id: Any, rows: list[_EventRow]) -> None:
    """Insert a run's events in one statement (Postgres: five arrays; SQLite: as many rows as its parameter limit
    takes), without a model instance per event; a ``seq`` already stored raises ``IntegrityError`` as before."""
    if connection.vendor not in ("postgresql", "sqlite"):
        RunEvent.objects.bulk_create(
            [
                RunEvent(run_id=run_id, **{name: getattr(row, name) for name in _EventRow.__slots__})
                for row in rows
            ],
            batch_size=1000,
        )
        return
    meta = RunEvent._meta
    table = meta.db_table
    run = meta.get_field("run").get_db_prep_save(run_id, connection)
    if connection.vendor == "postgresql":
        records = _pg_records_text([row.seq, row.type, row.node, row.data, row.time] for row in rows)
        if records is not None:
            with connection.cursor() as cursor:
                cursor.execute(
                    f'INSERT INTO "{table}" ("run_id", "seq", "type", "node", "data", "time") '
                    "SELECT %s, (r->>0)::integer, r->>1, r->>2, r->3, (r->>4)::double precision "
                    "FROM jsonb_array_elements(%s::jsonb) AS r",
                    [run, records],
                )
            return
    datas = [json_text(row.data) for row in rows]  # what the JSONField would store
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f'INSERT INTO "{table}" ("run_id", "seq", "type", "node", "data", "time") '
                "SELECT %s, u.s, u.t, u.n, u.d::jsonb, u.tm FROM unnest("
                "%s::integer[], %s::text[], %s::text[], %s::text[], %s::double precision[]) AS u(s, t, n, d, tm)",
                [
                    run,
                    [row.seq for row in rows],
                    [row.type for row in rows],
                    [row.node for row in rows],
                    datas,
                    [row.time for row in rows],
                ],
            )
            return
        per_statement = max(1, (connection.features.max_query_params or 999) // 6)
        for start in range(0, len(rows), per_statement):
            batch = rows[start : start + per_statement]
            params: list[Any] = []
            for row, data in zip(batch, datas[start : start + per_statement], strict=True):
                params += [run, row.seq, row.type, row.node, data, row.time]
            values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(batch))
            cursor.execute(
                f'INSERT INTO "{table}" ("run_id", "seq", "type", "node", "data", "time") VALUES {values}',
                params,
            )


def _column_field(name: str, model: type[models.Model] = NodeRun) -> Field[Any, Any]:
    """The field of ``model`` (a node row by default) stored in a column of its table (``get_field`` also
    answers relations without one)."""
    field = model._meta.get_field(name)
    assert isinstance(field, Field), name
    return field


# Values Django's ``get_db_prep_save`` hands to the driver unchanged, by field type (its ``to_python`` /
# ``get_prep_value`` on Postgres and SQLite): a 5,000-node run prepared 55,000 values one Django call each.
# Dates and JSON (adapted per database) always go through the field.
_AS_IS_STR = ("CharField", "TextField")  # a str (a TextChoices member included) or None
_AS_IS_FLOAT = ("FloatField",)  # exactly a float, or None
_AS_IS_INT = ("BigAutoField", "AutoField", "IntegerField", "PositiveIntegerField", "BigIntegerField")
_AS_IS_NONE = ("DateTimeField",)  # None only


def _as_is(field: Field[Any, Any]) -> Callable[[Any], bool]:
    """A test of whether ``field.get_db_prep_save(value)`` is ``value`` itself, for this field's type."""
    internal = field.get_internal_type()
    if internal in _AS_IS_STR:
        return lambda value: value is None or isinstance(value, str)
    if internal in _AS_IS_FLOAT:
        return lambda value: value is None or type(value) is float
    if internal in _AS_IS_INT:
        return lambda value: type(value) is int
    if internal in _AS_IS_NONE:
        return lambda value: value is None
    return lambda value: False


# How a JSON value is stored in a text column (SQLite's JSONField): ``json.dumps(value)``'s text, by one encoder
# made once.
json_text = json_texter()


def _utc_datetime_adapter() -> Callable[[datetime], Any] | None:
    """What ``DateTimeField.get_db_prep_save`` makes of an aware datetime whose tzinfo is ``datetime.UTC``, on this
    connection, without its checks; None where that is not known."""
    if not settings.USE_TZ:
        return None
    if connection.vendor == "postgresql":
        return lambda value: value  # psycopg adapts aware datetimes itself
    if connection.vendor == "sqlite" and connection.timezone_name == "UTC":
        return lambda value: str(value.replace(tzinfo=None))  # make_naive in UTC, then str()
    return None


def _preparer(field: Field[Any, Any]) -> Callable[[Any], Any]:
    """``field.get_db_prep_save(value, connection)``, with shortcuts for the values the recorder writes: those Django
    hands on unchanged (``_as_is``), its own UTC datetimes, and (SQLite) JSON text."""
    as_is = _as_is(field)
    internal = field.get_internal_type()

    def slow(value: Any) -> Any:
        return field.get_db_prep_save(value, connection)

    if internal == "DateTimeField":
        adapt = _utc_datetime_adapter()
        if adapt is not None:
            return lambda value: (
                None
                if value is None
                else adapt(value)
                if type(value) is datetime and value.tzinfo is UTC
                else slow(value)
            )
    if internal == "JSONField" and connection.vendor == "sqlite" and getattr(field, "encoder", None) is None:
        return lambda value: json_text(value) if type(value) is list or type(value) is dict else slow(value)
    return lambda value: value if as_is(value) else slow(value)


def _changed_fields(changed: set[str]) -> tuple[str, ...]:
    """The names of ``changed`` in ``_NODE_FIELDS``' order."""
    return tuple(name for name in _NODE_FIELDS if name in changed)


def update_node_runs(
    nodes: list[NodeRun] | list[_NodeRow],
    batch_size: int = 1000,
    *,
    fields: tuple[str, ...] | list[str] = tuple(_NODE_FIELDS),
) -> None:
    """Write ``fields`` (by default every field the recorder changes) of ``nodes`` in one statement per batch.

    An ``UPDATE ... FROM (VALUES ...)`` (Postgres, and SQLite since 3.33): Django's ``bulk_update`` builds a
    CASE expression per field and row in Python, which costs seconds for a few hundred rows.
    """
    if not fields or not nodes:
        return
    if connection.vendor not in ("postgresql", "sqlite"):
        models = [
            node
            if isinstance(node, NodeRun)
            else NodeRun(**{f: getattr(node, f) for f in _NodeRow.__slots__})
            for node in nodes
        ]
        NodeRun.objects.bulk_update(models, list(fields), batch_size=200)
        return
    meta = NodeRun._meta
    written = [_column_field(name) for name in ("id", *fields)]
    columns = [field.column for field in written]
    if connection.vendor == "postgresql" and _update_node_runs_from_json(nodes, written, batch_size):
        return
    if connection.vendor == "postgresql":
        row = "(" + ", ".join(f"%s::{field.db_type(connection)}" for field in written) + ")"
        assignments = ", ".join(f'"{column}" = v."{column}"' for column in columns[1:])
        names = ", ".join(f'"{column}"' for column in columns)
        alias = f"v({names})"
        key = f'v."{columns[0]}"'
    else:  # SQLite names a VALUES table's columns column1, column2, ...
        row = "(" + ", ".join("%s" for _ in written) + ")"
        assignments = ", ".join(f'"{column}" = v.column{i}' for i, column in enumerate(columns[1:], start=2))
        alias = "v"
        key = "v.column1"
    prepare = [(field.attname, _preparer(field)) for field in written]
    with connection.cursor() as cursor:
        for start in range(0, len(nodes), batch_size):
            batch = nodes[start : start + batch_size]
            params = [prep(getattr(node, attname)) for node in batch for attname, prep in prepare]
            cursor.execute(
                f'UPDATE "{meta.db_table}" AS n SET {assignments} '
                f"FROM (VALUES {', '.join([row] * len(batch))}) AS {alias} "
                f'WHERE n."{columns[0]}" = {key}',
                params,
            )


# Per field type, the values ``_update_node_runs_from_json`` sends as JSON: those that read back as the field would
# store them (anything else, a bool in a float column or a naive datetime, takes the parameter path).
def _json_sendable(field: Field[Any, Any]) -> Callable[[Any], bool]:
    internal = field.get_internal_type()
    if internal == "DateTimeField":
        return lambda value: value is None or (type(value) is datetime and value.tzinfo is not None)
    if internal == "JSONField":
        return lambda value: type(value) is list or type(value) is dict
    return _as_is(field)  # text, float and int values go as they are, in JSON as in parameters


def _update_node_runs_from_json(
    nodes: list[NodeRun] | list[_NodeRow], written: list[Field[Any, Any]], batch_size: int
) -> bool:
    """Postgres: ``update_node_runs``' statement with its rows as one JSON parameter; False (nothing written) when
    a value cannot travel that way exactly."""
    sendable = [(field.attname, _json_sendable(field)) for field in written]
    batches: list[str] = []
    for start in range(0, len(nodes), batch_size):
        rows: list[list[Any]] = []
        for node in nodes[start : start + batch_size]:
            row = [getattr(node, attname) for attname, _ in sendable]
            if not all(ok(value) for (_, ok), value in zip(sendable, row, strict=True)):
                return False
            rows.append(row)
        text = _pg_records_text(rows)
        if text is None:
            return False
        batches.append(text)
    q = connection.ops.quote_name
    values = [
        f"r->{index}"
        if field.get_internal_type() == "JSONField"
        else f"(r->>{index})::{field.db_type(connection)}"
        for index, field in enumerate(written)
    ]
    assignments = ", ".join(
        f"{q(field.column)} = {value}" for field, value in zip(written[1:], values[1:], strict=True)
    )
    sql = (
        f"UPDATE {q(NodeRun._meta.db_table)} AS n SET {assignments} FROM jsonb_array_elements(%s::jsonb) AS r "
        f"WHERE n.{q(written[0].column)} = {values[0]}"
    )
    with connection.cursor() as cursor:
        for text in batches:
            cursor.execute(sql, [text])
    return True


def encode_preview(frame: np.ndarray) -> bytes:
    """A progress preview as sent to clients: JPEG (quality 90), at most ``PREVIEW_MAX_SIDE`` px on the long side,
    from one ``(H, W, C)`` float frame in 0..1. ``len()`` of it is what a preview costs each watching socket."""
    from PIL import Image as PILImage

    data = np.clip(np.asarray(frame, dtype=np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if data.ndim == 3 and data.shape[2] == 1:
        data = data[:, :, 0]
    image = PILImage.fromarray(data)
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")  # JPEG has no alpha
    image.thumbnail((PREVIEW_MAX_SIDE, PREVIEW_MAX_SIDE))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=PREVIEW_JPEG_QUALITY)
    return buffer.getvalue()
