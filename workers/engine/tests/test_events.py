import json
import threading
import time
from typing import Any

import numpy as np

from workers.engine import Engine, Event, Graph, MemoryCache, RunResult
from workers.engine.events import summarize
from workers.engine.tests.helpers import add_chain, graph
from workers.engine.tests.nodes import registry


def run_collecting(
    g: Graph, cache: MemoryCache | None = None, **kwargs: Any
) -> tuple[list[Event], RunResult]:
    events: list[Event] = []
    result = Engine(registry, cache if cache is not None else MemoryCache(), **kwargs).run(
        g, on_event=events.append
    )
    return events, result


def test_a_run_reports_each_node_in_order_with_consecutive_sequence_numbers() -> None:
    events, result = run_collecting(add_chain(3))
    assert [(e.type, e.node) for e in events] == [
        ("run_started", None),
        ("node_started", "0"),
        ("node_finished", "0"),
        ("node_started", "1"),
        ("node_finished", "1"),
        ("node_started", "2"),
        ("node_finished", "2"),
        ("node_started", "show"),
        ("node_finished", "show"),
        ("run_finished", None),
    ]
    assert [e.seq for e in events] == list(range(1, 11))
    assert result.events == 10
    assert events[0].data == {"nodes": ["0", "1", "2", "show"], "targets": ["show"]}
    assert events[2].data["outputs"] == [{"name": "value", "type": "INT", "summary": "INT 0"}]
    assert events[4].data["outputs"] == [{"name": "total", "type": "INT", "summary": "INT 1"}]
    assert events[8].ui is not None and events[8].ui.text == ["2"]
    assert events[-1].data["status"] == "succeeded"
    assert (events[-1].data["executed"], events[-1].data["cached"], events[-1].data["failed"]) == (4, 0, [])


def test_event_data_is_json() -> None:
    g = graph(
        {
            "img": ("test.MakeImage", {}),
            "steps": ("test.Steps", {"steps": 2}),
            "fail": ("test.Crash", {"value": 0}),
            "show": ("test.Show", {"value": ["img", 0]}),
        },
        outputs=["show", "steps", "fail"],
    )
    events, _ = run_collecting(g)
    for event in events:
        json.dumps(event.data)
    assert {e.type for e in events} >= {"progress", "node_failed", "node_finished"}


def test_a_cached_run_lists_cached_nodes_once_and_replays_output_ui() -> None:
    cache = MemoryCache()
    run_collecting(add_chain(3), cache)
    events, result = run_collecting(add_chain(3), cache)
    assert [e.type for e in events] == ["run_started", "nodes_cached", "node_finished", "run_finished"]
    assert events[1].data == {"nodes": ["show"]}
    finished = events[2]
    assert finished.node == "show" and finished.data["cached"] is True
    assert finished.ui is not None and finished.ui.text == ["2"]


def test_the_number_of_events_grows_linearly_with_the_graph() -> None:
    for length in (10, 100, 1000):
        events, result = run_collecting(add_chain(length))
        assert len(events) == result.events == 2 * (length + 1) + 2


def test_progress_events_carry_values_and_the_preview_image() -> None:
    events, _ = run_collecting(graph({"s": ("test.Steps", {"steps": 3})}, outputs=["s"]))
    progress = [e for e in events if e.type == "progress"]
    assert [e.data for e in progress] == [{"value": v, "max": 3.0} for v in (1.0, 2.0, 3.0)]
    assert isinstance(progress[0].preview, np.ndarray) and progress[1].preview is None


def test_skipped_nodes_are_reported_in_one_event_at_the_end() -> None:
    g = graph(
        {
            "fail": ("test.Crash", {"value": 0}),
            "a": ("test.Add", {"a": ["fail", 0]}),
            "b": ("test.Add", {"a": ["a", 0]}),
        },
        outputs=["b"],
    )
    events, _ = run_collecting(g)
    skipped = [e for e in events if e.type == "nodes_skipped"]
    assert len(skipped) == 1
    assert sorted(skipped[0].data["nodes"]) == ["a", "b"] and skipped[0].data["reason"] == "upstream_failed"
    assert events[-1].data["failed"] == ["fail"]


def test_events_from_parallel_nodes_reach_the_callback_one_at_a_time() -> None:
    inside = threading.Lock()
    overlaps = []
    seqs = []

    def on_event(event: Event) -> None:
        if not inside.acquire(blocking=False):
            overlaps.append(event)
            return
        try:
            seqs.append(event.seq)
            time.sleep(0.001)
        finally:
            inside.release()

    g = graph(
        {f"s{i}": ("test.Steps", {"steps": 5, "delay": 0.002}) for i in range(4)},
        outputs=[f"s{i}" for i in range(4)],
    )
    Engine(registry, MemoryCache(), parallelism=4).run(g, on_event=on_event)
    assert overlaps == []
    assert seqs == list(range(1, len(seqs) + 1))


def test_summaries_are_short() -> None:
    assert summarize("INT", 42) == "INT 42"
    assert summarize("IMAGE", np.zeros((1, 512, 512, 3))) == "IMAGE 1x512x512x3"
    assert summarize("STRING", "hello") == "STRING 'hello'"
    long = summarize("STRING", "x" * 1000)
    assert len(long) < 60 and long.endswith("…'")
    assert summarize("FLOAT", 1 / 3) == "FLOAT 0.333333"
