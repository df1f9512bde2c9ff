"""A node that raises AwaitDecision pauses the run: what finished is kept, its dependents wait, and a later run
with the node's decision resumes from the cache."""

from __future__ import annotations

import threading
from typing import Any

from nodepacks import sdk
from workers.engine import Engine, Event, MemoryCache, NodeRegistry
from workers.engine.tests.helpers import graph
from workers.engine.tests.nodes import CALLS, count
from workers.engine.tests.nodes import pack as test_pack


class Gate(sdk.Node):
    """Passes ``value`` through once approved; waits for a decision before that."""

    id = "pausetest.Gate"
    non_deterministic = True  # a decision belongs to one run: never served from the cache

    class Inputs(sdk.Inputs):
        value: sdk.AnyValue = sdk.link()
        who: str = sdk.text("editor")

    class Outputs(sdk.Outputs):
        value: sdk.AnyValue

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        count(self.id)
        if ctx.decision == "approve":
            return self.Outputs(value=inputs.value)
        if ctx.decision is not None:
            raise sdk.NodeError(f"decided {ctx.decision}")
        raise sdk.AwaitDecision(
            f"check {inputs.value}",
            request={"approvers": inputs.who},
            ui=sdk.UI(text=[str(inputs.value)]),
        )


registry = NodeRegistry([test_pack, sdk.Pack(name="pausetest", version="1.0.0", nodes=[Gate])])


def gated(value: int = 1) -> Any:
    """Const -> Add(+1) -> Gate -> Add(+10) -> Show, and an independent Const -> Show branch."""
    return graph(
        {
            "c": ("test.Const", {"value": value}),
            "a": ("test.Add", {"a": ["c", 0], "b": 1}),
            "gate": ("pausetest.Gate", {"value": ["a", 0], "who": "alice,bob"}),
            "after": ("test.Add", {"a": ["gate", 0], "b": 10}),
            "show": ("test.Show", {"value": ["after", 0]}),
            "other": ("test.Const", {"value": 7}),
            "show_other": ("test.Show", {"value": ["other", 0]}),
        }
    )


def record(events: list[Event]) -> Any:
    lock = threading.Lock()

    def on_event(event: Event) -> None:
        with lock:
            events.append(event)

    return on_event


def test_a_node_awaiting_a_decision_pauses_the_run_and_its_dependents_wait() -> None:
    events: list[Event] = []
    result = Engine(registry, MemoryCache()).run(gated(), on_event=record(events))
    assert result.status == "paused"
    assert result.paused == ["gate"]
    assert "after" not in result.executed and "show" not in result.executed
    assert result.skipped == [], "nodes waiting for a decision are not skipped"
    assert "show_other" in result.executed, "an independent branch finishes"
    [paused] = [event for event in events if event.type == "node_paused"]
    assert paused.node == "gate"
    assert paused.data["approvers"] == "alice,bob"
    assert paused.data["message"] == "check 2"
    assert paused.data["type"] == "pausetest.Gate"
    assert paused.ui is not None and list(paused.ui.text) == ["2"]
    assert events[-1].type == "run_finished"
    assert events[-1].data["status"] == "paused" and events[-1].data["paused"] == ["gate"]
    assert not [event for event in events if event.type == "nodes_skipped"]


def test_with_the_decision_the_run_resumes_from_the_cache_and_passes_the_value_on() -> None:
    cache = MemoryCache()
    engine = Engine(registry, cache)
    assert engine.run(gated(5)).status == "paused"
    assert CALLS["test.Add"] == 1
    result = engine.run(gated(5), decisions={"gate": "approve"})
    assert result.status == "succeeded", result.errors
    assert list(result.ui["show"].text) == ["16"]  # (5 + 1) passed through, + 10
    assert CALLS["test.Add"] == 2, "the node before the gate came from the cache; only the one after ran"
    assert "a" in result.cached and "gate" in result.executed
    assert CALLS["pausetest.Gate"] == 2


def test_an_approved_gate_is_never_reused_for_another_run() -> None:
    engine = Engine(registry, MemoryCache())
    assert engine.run(gated(3), decisions={"gate": "approve"}).status == "succeeded"
    assert engine.run(gated(3)).status == "paused", "without its own decision a run asks again"


def test_a_failure_elsewhere_fails_the_run_and_skips_the_waiting_nodes() -> None:
    g = graph(
        {
            "c": ("test.Const", {"value": 1}),
            "gate": ("pausetest.Gate", {"value": ["c", 0]}),
            "show": ("test.Show", {"value": ["gate", 0]}),
            "bad": ("test.Crash", {}),
            "show_bad": ("test.Show", {"value": ["bad", 0]}),
        }
    )
    result = Engine(registry, MemoryCache()).run(g)
    assert result.status == "failed"
    assert result.paused == ["gate"]
    assert "show" in result.skipped


def test_a_rejected_decision_reaching_the_node_fails_it() -> None:
    result = Engine(registry, MemoryCache()).run(gated(), decisions={"gate": "reject"})
    assert result.status == "failed"
    assert result.failed == ["gate"]
