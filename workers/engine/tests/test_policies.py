"""Per-node execution policy: retries with backoff, cooperative timeouts, and out-of-memory recovery."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from nodepacks import sdk
from workers.engine import Engine, Event, MemoryCache, NodeRegistry
from workers.engine.tests.helpers import graph

state: dict[str, Any] = {}


class Transient(sdk.Node):
    """Fails with ConnectionError until the ``fail`` count runs out."""

    id = "policy.Transient"
    retry = sdk.Retry(attempts=3, backoff_seconds=0.01)

    class Inputs(sdk.Inputs):
        value: int = sdk.number(0)

    class Outputs(sdk.Outputs):
        value: int

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        state["calls"] = state.get("calls", 0) + 1
        if state.get("fail", 0) > 0:
            state["fail"] -= 1
            raise ConnectionError("the service hung up")
        return self.Outputs(value=inputs.value + 1)


class Broken(sdk.Node):
    """Raises ValueError, which its policy does not retry."""

    id = "policy.Broken"
    retry = sdk.Retry(attempts=5, backoff_seconds=0.0, on=(ConnectionError,))

    class Inputs(sdk.Inputs):
        value: int = sdk.number(0)

    class Outputs(sdk.Outputs):
        value: int

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        state["broken_calls"] = state.get("broken_calls", 0) + 1
        raise ValueError("bad input")


class Patient(sdk.Node):
    """Loops for ``seconds``, checking for cancellation (and so its timeout) as it goes."""

    id = "policy.Patient"
    timeout_seconds = 0.2

    class Inputs(sdk.Inputs):
        seconds: float = sdk.number(1.0)

    class Outputs(sdk.Outputs):
        value: int

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        deadline = time.monotonic() + inputs.seconds
        while time.monotonic() < deadline:
            ctx.check_cancelled()
            time.sleep(0.01)
        return self.Outputs(value=1)


class Hungry(sdk.Node):
    """Runs out of memory the first ``oom`` times (as torch does, by the name of the error)."""

    id = "policy.Hungry"

    class Inputs(sdk.Inputs):
        value: int = sdk.number(0)

    class Outputs(sdk.Outputs):
        value: int

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        state["hungry_calls"] = state.get("hungry_calls", 0) + 1
        if state.get("oom", 0) > 0:
            state["oom"] -= 1
            raise OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self.Outputs(value=inputs.value)


class Sleep(sdk.Node):
    """Takes ``seconds`` to pass its value on."""

    id = "policy.Sleep"

    class Inputs(sdk.Inputs):
        value: int = sdk.number(0)
        seconds: float = sdk.number(0.0)

    class Outputs(sdk.Outputs):
        value: int

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        time.sleep(inputs.seconds)
        return self.Outputs(value=inputs.value)


class OutOfMemoryError(RuntimeError):
    """Stands in for torch.OutOfMemoryError (the engine recognises it by name)."""


class Models:
    def __init__(self) -> None:
        self.freed = 0

    def get(self, model_id: str, revision: str | None = None, **options: Any) -> Any:
        return None

    def free_all(self) -> int:
        self.freed += 1
        return 2


registry = NodeRegistry(
    [sdk.Pack(name="policy-test", version="1.0.0", nodes=[Transient, Broken, Patient, Hungry, Sleep])]
)


@pytest.fixture(autouse=True)
def fresh_state() -> None:
    state.clear()


def run(nodes: dict[str, Any], **kwargs: Any) -> tuple[Any, list[Event]]:
    events: list[Event] = []
    engine = Engine(registry, MemoryCache(), **kwargs)
    result = engine.run(graph(nodes, outputs=list(nodes)), on_event=events.append)
    return result, events


def test_a_transient_error_is_retried_per_policy_and_each_retry_is_reported() -> None:
    state["fail"] = 2
    result, events = run({"a": ("policy.Transient", {"value": 1})})
    assert result.status == "succeeded" and result.outputs["a"] == (2,)
    assert state["calls"] == 3
    retries = [event for event in events if event.type == "node_retry"]
    assert [(e.node, e.data["attempt"], e.data["attempts"]) for e in retries] == [("a", 2, 3), ("a", 3, 3)]
    assert retries[0].data["error"] == "ConnectionError: the service hung up"
    assert retries[0].data["delay"] == pytest.approx(0.01) and retries[1].data["delay"] == pytest.approx(0.02)


def test_a_node_fails_when_its_attempts_run_out() -> None:
    state["fail"] = 5
    result, events = run({"a": ("policy.Transient", {"value": 1})})
    assert result.status == "failed"
    assert state["calls"] == 3
    [failed] = [event for event in events if event.type == "node_failed"]
    assert failed.data["error_type"] == "ConnectionError"


def test_errors_outside_the_policy_are_not_retried() -> None:
    result, events = run({"a": ("policy.Broken", {})})
    assert result.status == "failed" and state["broken_calls"] == 1
    assert not [event for event in events if event.type == "node_retry"]


def test_a_cooperative_node_past_its_timeout_fails_with_a_timeout() -> None:
    # The node would loop for an hour: only its 0.2 s timeout ends it (were the timeout ignored, pytest-timeout
    # would stop the test), so no clock is read here.
    result, events = run({"a": ("policy.Patient", {"seconds": 3600.0})})
    assert result.status == "failed"
    [failed] = [event for event in events if event.type == "node_failed"]
    assert failed.data["error_type"] == "NodeTimeout"
    assert "timeout of 0.2 s" in failed.data["error"]
    assert failed.data["traceback"] is None


def test_a_node_within_its_timeout_succeeds() -> None:
    result, _ = run({"a": ("policy.Patient", {"seconds": 0.05})})
    assert result.status == "succeeded"


def test_out_of_memory_frees_the_warm_models_and_retries_once() -> None:
    models = Models()
    state["oom"] = 1
    result, events = run({"a": ("policy.Hungry", {"value": 7})}, models=models)
    assert result.status == "succeeded" and result.outputs["a"] == (7,)
    assert models.freed == 1 and state["hungry_calls"] == 2
    [retry] = [event for event in events if event.type == "node_retry"]
    assert retry.data["reason"] == "out_of_memory" and retry.data["models_freed"] == 2


def test_out_of_memory_twice_fails_the_node() -> None:
    models = Models()
    state["oom"] = 2
    result, _ = run({"a": ("policy.Hungry", {"value": 7})}, models=models)
    assert result.status == "failed" and state["hungry_calls"] == 2 and models.freed == 1


def test_cancelling_during_a_backoff_stops_the_node() -> None:
    class Slow(Transient):
        id = "policy.SlowRetry"
        retry = sdk.Retry(attempts=3, backoff_seconds=3600.0)  # only the cancel can end this wait

    slow_registry = NodeRegistry([sdk.Pack(name="policy-slow", version="1.0.0", nodes=[Slow])])
    state["fail"] = 5
    cancel = threading.Event()
    threading.Timer(0.1, cancel.set).start()
    events: list[Event] = []
    result = Engine(slow_registry, MemoryCache()).run(
        graph({"a": ("policy.SlowRetry", {})}, outputs=["a"]), cancel=cancel, on_event=events.append
    )
    assert result.status == "cancelled"
    assert [event.type for event in events if event.type in ("node_retry", "node_started")] == [
        "node_started",
        "node_retry",
    ]  # cancelled in the hour-long wait before its second attempt


def test_the_schema_carries_the_policy_and_rejects_a_bad_one() -> None:
    schema = Transient.schema()
    assert schema.retry == sdk.Retry(attempts=3, backoff_seconds=0.01)
    assert Patient.schema().timeout_seconds == 0.2
    with pytest.raises(TypeError, match="timeout_seconds"):

        class Bad(Patient):
            id = "policy.Bad"
            timeout_seconds = -1

    with pytest.raises(ValueError, match="attempts"):
        sdk.Retry(attempts=0)


class CountingCache(MemoryCache):
    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1


def test_a_costly_result_is_flushed_to_the_store_at_once_and_cheap_ones_with_the_run() -> None:
    cache = CountingCache()
    Engine(registry, cache).run(graph({"a": ("policy.Sleep", {"seconds": 0.0})}, outputs=["a"]))
    assert cache.flushes == 1  # at the end of the run only
    cache = CountingCache()
    Engine(registry, cache).run(graph({"a": ("policy.Sleep", {"seconds": 0.6})}, outputs=["a"]))
    assert cache.flushes == 2  # as soon as the costly node finished, and at the end
