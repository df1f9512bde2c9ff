"""The executor: plan what the requested outputs need, then run it, independent branches in parallel.

Planning walks back from the targets and stops at nodes whose cache key the store holds (their ancestors are
not needed). Execution is a topological "dissolve": a node becomes ready when every planned upstream node has
finished. One ready node with nothing else running runs inline on the calling thread (a chain pays no thread
hand-off); otherwise ready nodes go to a thread pool of ``parallelism`` workers. If a cached entry disappears
between the index lookup and the load, that node is planned again for execution, pulling in its ancestors.

A failing node skips its dependents while independent branches finish; everything computed is stored, so
running again resumes from the failure. A node that raises ``AwaitDecision`` (an approval step) pauses in the same
way without failing: independent branches finish, its dependents wait, and the run ends "paused"; run again with
the node's decision in ``decisions``, it resumes from there.
"""

from __future__ import annotations

import logging
import re
import secrets
import shutil
import tempfile
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from queue import SimpleQueue
from typing import Any, Literal

import numpy as np

from nodepacks.sdk import (
    UI,
    AwaitDecision,
    Cancelled,
    Context,
    FileProvider,
    ModelProvider,
    NodeError,
    NodeTimeout,
    Result,
)
from nodepacks.sdk.context import NoFiles, NoModels
from workers.engine.cache import CacheEntry, CacheStore, MemoryCache, estimate_size
from workers.engine.cache_keys import keys_for
from workers.engine.events import EventCallback, EventSink, summarize
from workers.engine.graph import Graph, GraphError
from workers.engine.registry import NodeRegistry
from workers.engine.validation import OptionSources, ResolvedGraph, ResolvedNode, resolve_graph

logger = logging.getLogger(__name__)

RunStatus = Literal["succeeded", "failed", "cancelled", "invalid", "paused"]

# A node result that took at least this long to compute is flushed to the cache store at once, not batched.
DURABLE_AFTER_SECONDS = 0.5


@dataclass(slots=True)
class RunResult:
    """How a run ended: its status, errors, the target nodes' outputs and UI, and what happened to each node."""

    status: RunStatus
    errors: list[GraphError] = field(default_factory=list)
    outputs: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    ui: dict[str, UI] = field(default_factory=dict)
    executed: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    paused: list[str] = field(default_factory=list)  # nodes waiting for a decision (AwaitDecision)
    events: int = 0
    duration: float = 0.0


class Engine:
    """Runs graphs of the registry's node types, reusing results through ``cache``.

    One engine may serve several runs at once; they share its ``parallelism`` worker threads, and each run
    keeps at most that many of its nodes in flight.
    """

    def __init__(
        self,
        registry: NodeRegistry,
        cache: CacheStore | None = None,
        *,
        parallelism: int = 4,
        files: FileProvider | None = None,
        models: ModelProvider | None = None,
        scratch_root: Path | None = None,
    ) -> None:
        if parallelism < 1:
            raise ValueError("parallelism must be at least 1")
        self.registry = registry
        self.cache: CacheStore = cache if cache is not None else MemoryCache()
        self.parallelism = parallelism
        self.files: FileProvider = files or NoFiles()
        self.models: ModelProvider = models or NoModels()
        self.scratch_root = scratch_root
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def pool(self) -> ThreadPoolExecutor:
        """The worker threads, started on first need and shared by this engine's runs."""
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.parallelism, thread_name_prefix="flowyard-node")
            return self._pool

    def close(self) -> None:
        """Stop the worker threads once running nodes finish (a later run starts them again)."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def run(
        self,
        graph: Graph,
        *,
        outputs: list[str] | None = None,
        on_event: EventCallback | None = None,
        cancel: threading.Event | None = None,
        validate: bool = True,
        option_sources: OptionSources | None = None,
        decisions: Mapping[str, str] | None = None,
    ) -> RunResult:
        """Run what ``outputs`` (default: ``graph.outputs``, else every output node) need; return the result.

        ``validate=False`` trusts a graph validated before: constants are not coerced or range-checked and
        link types are not compared (structure is still checked, since the engine cannot run without it).
        ``decisions``: {node id: decision} recorded for nodes that paused the run (their ``ctx.decision``).
        """
        started = time.perf_counter()
        sink = EventSink(on_event)
        resolved = resolve_graph(
            graph, self.registry, outputs=outputs, option_sources=option_sources, check_values=validate
        )
        if resolved.errors:
            duration = time.perf_counter() - started
            finished = {"status": "invalid", "executed": 0, "cached": 0, "failed": [], "duration": duration}
            sink.emit("run_finished", None, finished)
            return RunResult("invalid", errors=resolved.errors, events=sink.count, duration=duration)
        run = _Run(self, resolved, sink, cancel or threading.Event(), started)
        run.decisions = decisions or {}
        try:
            return run.execute()
        finally:
            # The run refers to itself through its bound method: dropped, reference counting frees the run's
            # state at once instead of the cyclic collector walking it later (a 5,000-node run's ~25,000 objects).
            run.progress_callback = None


# Node states during a run.
_LOAD = 1  # planned: served from the cache
_EXECUTE = 2  # planned: to execute once its upstream nodes are done
_RUNNING = 3
_DONE = 4
_FAILED = 5
_SKIPPED = 6
_PAUSED = 7  # raised AwaitDecision: its dependents wait for the decision

_PLANNED = (_LOAD, _EXECUTE)


@dataclass(slots=True)
class _Outcome:
    """What a node task came back with (built on a worker thread, handled on the run's thread)."""

    node: str
    kind: Literal["loaded", "missing", "executed", "failed", "cancelled", "paused"]
    duration: float = 0.0
    outputs: tuple[Any, ...] = ()
    ui: UI | None = None
    error: str = ""
    error_type: str = ""
    traceback: str | None = None
    request: dict[str, Any] | None = None  # a paused node's AwaitDecision.request


class _InvalidOutputs(TypeError):
    """A node returned something that does not match its declared outputs."""


@cache
def _node_logger(node_type: str) -> logging.Logger:
    # One logger per node type, not per node id: ids are unbounded and loggers live forever.
    return logging.getLogger(f"flowyard.node.{node_type}")


class _Run:
    """The state of one run: the plan, node states, values in flight, and what to report."""

    def __init__(
        self,
        engine: Engine,
        resolved: ResolvedGraph,
        sink: EventSink,
        cancel: threading.Event,
        started: float,
    ) -> None:
        self.engine = engine
        self.cache = engine.cache
        self.resolved = resolved
        self.nodes = resolved.nodes
        self.targets = dict.fromkeys(resolved.targets)
        self.sink = sink
        self.cancel = cancel
        self.started = started
        self.scratch_root = (engine.scratch_root or Path(tempfile.gettempdir())) / (
            f"flowyard-run-{secrets.token_hex(6)}"
        )
        cache_keys = keys_for(resolved, engine.files, engine.models)
        self.keys = cache_keys.keys
        self.volatile = cache_keys.volatile
        stable = [key for node_id, key in self.keys.items() if node_id not in cache_keys.volatile]
        self.in_cache = self.lookup(stable) if stable else set()
        self.load_failed: set[str] = set()
        self.state: dict[str, int] = {}
        self.waiting: dict[str, int] = {}  # EXECUTE nodes: planned upstream nodes not done yet
        self.consumers: dict[str, list[str]] = {}  # node -> planned EXECUTE nodes waiting for it
        self.readers: dict[str, int] = {}  # node -> unfinished EXECUTE nodes that read its value
        self.values: dict[str, tuple[Any, ...]] = {}
        self.ready: deque[str] = deque()
        self.result = RunResult("succeeded")
        # Without a listener progress reports go nowhere: nodes then only check cancellation.
        self.progress_callback = self.on_progress if sink.listening else None
        self.cancelled = False
        self.decisions: Mapping[str, str] = {}

    def lookup(self, keys: list[str]) -> set[str]:
        """The keys the cache index holds; none when the index cannot answer (the run then computes all)."""
        try:
            return self.cache.contains_many(keys)
        except Exception:
            logger.exception("cache index lookup failed: running without cached results")
            return set()

    # Planning

    def plan(self, roots: list[str]) -> list[str]:
        """Plan ``roots`` and what they need; return the newly planned nodes that will load from the cache."""
        state = self.state
        nodes = self.nodes
        keys = self.keys
        in_cache = self.in_cache
        from_cache: list[str] = []
        doomed: list[str] = []
        stack = list(roots)
        while stack:
            node_id = stack.pop()
            if node_id in state:
                continue
            if keys[node_id] in in_cache and node_id not in self.load_failed:
                state[node_id] = _LOAD
                from_cache.append(node_id)
                self.ready.append(node_id)
                continue
            state[node_id] = _EXECUTE
            waiting = 0
            upstream_failed = False
            for upstream in nodes[node_id].upstream:
                upstream_state = state.get(upstream)
                self.readers[upstream] = self.readers.get(upstream, 0) + 1
                if upstream_state == _DONE and upstream in self.values:
                    continue
                if upstream_state in (_FAILED, _SKIPPED):
                    upstream_failed = True
                    continue
                if upstream_state == _DONE:  # its value was freed: obtain it again
                    del state[upstream]
                    upstream_state = None
                waiting += 1
                self.consumers.setdefault(upstream, []).append(node_id)
                if upstream_state is None:
                    stack.append(upstream)
            self.waiting[node_id] = waiting
            if upstream_failed:
                doomed.append(node_id)
            elif waiting == 0:
                self.ready.append(node_id)
        for node_id in doomed:
            if state[node_id] == _EXECUTE:
                state[node_id] = _SKIPPED
                self.result.skipped.append(node_id)
                self.skip_dependents(node_id)
        return from_cache

    # Running

    def execute(self) -> RunResult:
        """Plan, run every planned node, report, and return the result."""
        sink = self.sink
        from_cache = self.plan(list(self.targets))
        planned = [node_id for node_id in self.resolved.order if node_id in self.state]
        sink.emit("run_started", None, {"nodes": planned, "targets": list(self.targets)})
        if from_cache:
            sink.emit("nodes_cached", None, {"nodes": from_cache})
        try:
            self.dispatch()
        finally:
            if self.scratch_root.exists():
                shutil.rmtree(self.scratch_root, ignore_errors=True)
        return self.finish()

    def dispatch(self) -> None:
        """Run ready nodes until none are left (or the run stops), handling outcomes on this thread."""
        ready = self.ready
        parallelism = self.engine.parallelism
        done: SimpleQueue[_Outcome] = SimpleQueue()
        running = 0
        while True:
            if not self.cancelled and self.cancel.is_set():
                self.cancelled = True
            if ready and not self.cancelled:
                if running == 0 and len(ready) == 1:
                    self.complete(self.start(ready.popleft())())
                    continue
                pool = self.engine.pool()
                while ready and running < parallelism:
                    pool.submit(_report, self.start(ready.popleft()), done)
                    running += 1
            if running == 0:
                return
            self.complete(done.get())
            running -= 1
            while running and not done.empty():  # handle every finished node before dispatching again
                self.complete(done.get())
                running -= 1

    def start(self, node_id: str) -> Callable[[], _Outcome]:
        """Mark ``node_id`` running and return its task (to call on any thread)."""
        if self.state[node_id] == _LOAD:
            self.state[node_id] = _RUNNING
            return lambda: self.load(node_id)
        self.state[node_id] = _RUNNING
        node = self.nodes[node_id]
        values = self.values
        kwargs = dict(node.constants)
        for name, upstream, output in node.links:
            kwargs[name] = values[upstream][output]
        self.sink.emit("node_started", node_id, {"type": node.entry.schema.id})
        return lambda: self.run_node(node, kwargs)

    def load(self, node_id: str) -> _Outcome:
        """Load a cached node's entry; "missing" when it has gone since the index said it was there."""
        try:
            entry = self.cache.get(self.keys[node_id])
        except Exception:
            logger.exception("loading the cached result of node %s failed: executing it", node_id)
            entry = None
        if entry is None:
            return _Outcome(node_id, "missing")
        return _Outcome(node_id, "loaded", outputs=entry.outputs, ui=entry.ui)

    def run_node(self, node: ResolvedNode, kwargs: dict[str, Any]) -> _Outcome:
        """Execute one node and store its result; never raises."""
        began = time.perf_counter()
        entry = node.entry
        try:
            if self.cancel.is_set():
                raise Cancelled()
            inputs = entry.node_cls.Inputs.model_construct(**kwargs)
            outputs, ui = self.execute_with_policy(node, inputs)
        except Cancelled:
            return _Outcome(node.id, "cancelled", time.perf_counter() - began)
        except AwaitDecision as exc:
            ui = exc.ui if isinstance(exc.ui, UI) and not exc.ui.is_empty() else None
            return _Outcome(
                node.id, "paused", time.perf_counter() - began, ui=ui, error=str(exc), request=exc.request
            )
        except (NodeError, NodeTimeout, _InvalidOutputs) as exc:  # the message says it all: no traceback
            error_type = "NodeError" if isinstance(exc, NodeError) else type(exc).__name__.lstrip("_")
            return _Outcome(
                node.id, "failed", time.perf_counter() - began, error=str(exc), error_type=error_type
            )
        except Exception as exc:
            if _out_of_memory(exc):  # still out of memory after freeing the warm models: say what to do
                return _Outcome(
                    node.id,
                    "failed",
                    time.perf_counter() - began,
                    error=out_of_memory_message(exc),
                    error_type="OutOfMemory",
                )
            return _Outcome(
                node.id,
                "failed",
                time.perf_counter() - began,
                error=f"{type(exc).__name__}: {exc}",
                error_type=type(exc).__name__,
                traceback=traceback.format_exc(),
            )
        duration = time.perf_counter() - began
        if node.id not in self.volatile:  # a volatile key is never looked up again
            stored = CacheEntry(outputs, node.info.output_types, ui, entry.schema.id, estimate_size(outputs))
            try:
                self.cache.put(self.keys[node.id], stored)
                if duration >= DURABLE_AFTER_SECONDS:
                    # Costly work is made durable at once (stores may batch index rows until the run ends):
                    # if this worker dies later in the run, the worker that resumes it loads this result.
                    self.cache.flush()
            except Exception:
                logger.exception("could not store the result of node %s in the cache", node.id)
        return _Outcome(node.id, "executed", duration, outputs=outputs, ui=ui)

    def execute_with_policy(self, node: ResolvedNode, inputs: Any) -> tuple[tuple[Any, ...], UI | None]:
        """Call the node's ``execute`` under its retry policy and timeout; raise what the last attempt raised.

        Each attempt gets its own timeout. Out of memory (``MemoryError``, torch's ``OutOfMemoryError``) frees
        the warm models and retries once, whatever the policy says.
        """
        entry = node.entry
        schema = entry.schema
        policy = schema.retry
        attempts = policy.attempts if policy is not None else 1
        attempt = 1
        freed_memory = False
        while True:
            ctx = Context(
                node.id,
                on_progress=self.progress_callback,
                cancel_event=self.cancel,
                files=self.engine.files,
                models=self.engine.models,
                logger=_node_logger(schema.id),
                scratch_root=self.scratch_root,
                timeout_seconds=schema.timeout_seconds,
                decision=self.decisions.get(node.id),
            )
            try:
                returned = entry.instance.execute(inputs, ctx)
                if ctx.timed_out():
                    # It returned, but past its deadline without checking: the timeout holds all the same.
                    ctx.check_cancelled()
                return _unpack(node, returned)
            except (Cancelled, AwaitDecision, _InvalidOutputs):
                raise
            except Exception as exc:
                if _out_of_memory(exc) and not freed_memory:
                    freed_memory = True
                    freed = _free_models(self.engine.models)
                    self.report_retry(
                        node, attempt + 1, attempt + 1, exc, 0.0, out_of_memory=True, freed=freed
                    )
                    attempts += (
                        1  # the out-of-memory retry is extra: it does not use up the policy's attempts
                    )
                elif policy is not None and attempt < attempts and policy.retries(exc):
                    delay = policy.delay(attempt + 1)
                    self.report_retry(node, attempt + 1, attempts, exc, delay)
                    if delay and self.cancel.wait(delay):
                        raise Cancelled() from None
                else:
                    raise
                attempt += 1
                if self.cancel.is_set():
                    raise Cancelled() from None

    def report_retry(
        self,
        node: ResolvedNode,
        attempt: int,
        attempts: int,
        error: BaseException,
        delay: float,
        *,
        out_of_memory: bool = False,
        freed: int | None = None,
    ) -> None:
        """Emit ``node_retry``: which attempt comes next, of how many, after what error and how long a wait."""
        data: dict[str, Any] = {
            "type": node.entry.schema.id,
            "attempt": attempt,
            "attempts": attempts,
            "error": f"{type(error).__name__}: {error}",
            "error_type": type(error).__name__,
            "delay": delay,
        }
        if out_of_memory:
            data["reason"] = "out_of_memory"
            data["models_freed"] = freed
        _node_logger(node.entry.schema.id).warning(
            "node %s: %s; attempt %d of %d", node.id, data["error"], attempt, attempts
        )
        self.sink.emit("node_retry", node.id, data)

    def on_progress(
        self, node_id: str, value: float, total: float | None, preview: np.ndarray | None
    ) -> None:
        """Report a node's progress (called from the node's thread)."""
        self.sink.emit("progress", node_id, {"value": value, "max": total}, preview=preview)

    # Outcomes

    def complete(self, outcome: _Outcome) -> None:
        """Record a task's outcome and make the nodes waiting for it ready."""
        node_id = outcome.node
        kind = outcome.kind
        result = self.result
        if kind == "executed" or kind == "loaded":
            self.state[node_id] = _DONE
            self.values[node_id] = outcome.outputs
            cached = kind == "loaded"
            (result.cached if cached else result.executed).append(node_id)
            if node_id in self.targets:
                result.outputs[node_id] = outcome.outputs
            if outcome.ui is not None:
                result.ui[node_id] = outcome.ui
            if not cached or (outcome.ui is not None and node_id in self.targets):
                self.report_finished(node_id, outcome, cached)
            self.release(node_id, read_upstream=not cached)
        elif kind == "missing":
            self.load_failed.add(node_id)
            del self.state[node_id]
            from_cache = self.plan([node_id])
            if from_cache:
                self.sink.emit("nodes_cached", None, {"nodes": from_cache})
        elif kind == "failed":
            self.state[node_id] = _FAILED
            result.failed.append(node_id)
            result.errors.append(GraphError("node_failed", outcome.error, node=node_id))
            data = {
                "type": self.nodes[node_id].entry.schema.id,
                "error": outcome.error,
                "error_type": outcome.error_type,
                "traceback": outcome.traceback,
                "duration": outcome.duration,
            }
            self.sink.emit("node_failed", node_id, data)
            self.skip_dependents(node_id)
        elif kind == "paused":
            # Its dependents stay planned and never become ready: the run ends "paused" once the rest is done.
            self.state[node_id] = _PAUSED
            result.paused.append(node_id)
            request = {"type": self.nodes[node_id].entry.schema.id, "message": outcome.error}
            request.update(outcome.request or {})
            self.sink.emit("node_paused", node_id, request, ui=outcome.ui)
        else:
            self.cancelled = True
            self.state[node_id] = _SKIPPED
            result.skipped.append(node_id)

    def report_finished(self, node_id: str, outcome: _Outcome, cached: bool) -> None:
        """Emit node_finished with a short summary of each output."""
        if not self.sink.listening:  # nobody reads it: count it without building its data
            self.sink.emit("node_finished", node_id, {})
            return
        node = self.nodes[node_id]
        info = node.info
        summaries = [
            {"name": name, "type": type_name, "summary": summarize(type_name, value)}
            for name, type_name, value in zip(
                info.output_names, info.output_types, outcome.outputs, strict=False
            )
        ]
        data = {
            "type": node.entry.schema.id,
            "duration": outcome.duration,
            "cached": cached,
            "outputs": summaries,
        }
        self.sink.emit("node_finished", node_id, data, ui=outcome.ui)

    def release(self, node_id: str, *, read_upstream: bool) -> None:
        """Count ``node_id`` done for its consumers; if it read upstream values, free those nobody still needs."""
        waiting = self.waiting
        state = self.state
        for consumer in self.consumers.get(node_id, ()):
            waiting[consumer] -= 1
            if waiting[consumer] == 0 and state[consumer] == _EXECUTE:
                self.ready.append(consumer)
        if not read_upstream:
            return
        readers = self.readers
        for upstream in self.nodes[node_id].upstream:
            readers[upstream] -= 1
            if readers[upstream] == 0 and upstream not in self.targets:
                self.values.pop(upstream, None)

    def skip_dependents(self, node_id: str) -> None:
        """Mark every planned node downstream of ``node_id`` skipped."""
        stack = list(self.consumers.get(node_id, ()))
        state = self.state
        while stack:
            consumer = stack.pop()
            if state.get(consumer) == _EXECUTE:
                state[consumer] = _SKIPPED
                self.result.skipped.append(consumer)
                stack.extend(self.consumers.get(consumer, ()))

    def finish(self) -> RunResult:
        """Mark what never ran skipped, emit the closing events, and return the result."""
        result = self.result
        if self.cancelled:
            result.status = "cancelled"
        elif result.failed:
            result.status = "failed"
        elif result.paused:
            result.status = "paused"
        if result.status != "paused":  # paused: what is still planned waits for the decision
            for node_id, node_state in self.state.items():
                if node_state in _PLANNED:
                    result.skipped.append(node_id)
        if result.skipped:
            reason = "cancelled" if self.cancelled else "upstream_failed"
            self.sink.emit("nodes_skipped", None, {"nodes": result.skipped, "reason": reason})
        try:
            self.cache.flush()  # the run counts as finished once its results can be reused elsewhere
        except Exception:
            logger.exception("could not flush the cache store")
        result.duration = time.perf_counter() - self.started
        finished = {
            "status": result.status,
            "executed": len(result.executed),
            "cached": len(result.cached),
            "failed": result.failed,
            "duration": result.duration,
        }
        if result.paused:
            finished["paused"] = result.paused
        self.sink.emit("run_finished", None, finished)
        result.events = self.sink.count
        return result


def _out_of_memory(error: BaseException) -> bool:
    """MemoryError, or torch's OutOfMemoryError (told by name: the engine does not import torch)."""
    return isinstance(error, MemoryError) or type(error).__name__ == "OutOfMemoryError"


_GPU_INDEX = re.compile(r"\bGPU (\d+)\b")


def out_of_memory_message(error: BaseException) -> str:
    """What a node that ran out of memory tells the user: where, what to try, and the library's own words."""
    if isinstance(error, MemoryError):
        device = "the CPU (RAM)"
    else:
        text = str(error)
        index = _GPU_INDEX.search(text)
        if "MPS" in text:
            device = "the GPU (MPS)"
        elif index is not None:
            device = f"GPU {index.group(1)}"
        else:
            device = "the GPU"
    detail = (str(error).strip().splitlines() or [""])[0][:300]
    message = f"out of memory on {device}: try a smaller size or batch"
    return f"{message} ({detail})" if detail else message


def _free_models(models: Any) -> int | None:
    """Unload every warm model of a model manager that can (``free_all``); return how many it dropped."""
    free_all = getattr(models, "free_all", None)
    if free_all is None:
        return None
    try:
        return int(free_all())
    except Exception:
        logger.exception("freeing the warm models failed")
        return None


def _report(task: Callable[[], _Outcome], done: SimpleQueue[_Outcome]) -> None:
    done.put(task())


def _unpack(node: ResolvedNode, returned: Any) -> tuple[tuple[Any, ...], UI | None]:
    """Return (output values in socket order, UI or None) from what ``execute`` returned."""
    if isinstance(returned, Result):
        outputs: Any = returned.outputs
        ui: UI | None = returned.ui if returned.ui is not None and not returned.ui.is_empty() else None
    else:
        outputs, ui = returned, None
    info = node.info
    if outputs is None:
        if info.output_names:
            raise _InvalidOutputs(
                f"{node.entry.schema.id} returned no outputs but declares {len(info.output_names)}"
            )
        return (), ui
    if not isinstance(outputs, node.entry.node_cls.Outputs):
        raise _InvalidOutputs(f"{node.entry.schema.id} returned {type(outputs).__name__}, not its Outputs")
    values = info.read_outputs(outputs)
    for index, check in info.output_checks:
        if not check(values[index]):
            raise _InvalidOutputs(
                f"{node.entry.schema.id} output {info.output_names[index]!r} should be "
                f"{info.output_types[index]}, got {type(values[index]).__name__}"
            )
    return values, ui
