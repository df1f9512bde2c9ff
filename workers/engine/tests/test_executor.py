import threading
from collections.abc import Sequence
from hashlib import sha256
from io import BytesIO
from typing import Any, BinaryIO

import numpy as np

from workers.engine import CacheEntry, Engine, Event, MemoryCache
from workers.engine.tests.helpers import add_chain, graph
from workers.engine.tests.nodes import CALLS, OVERLAP, registry


def engine(cache: MemoryCache | None = None, **kwargs: Any) -> Engine:
    return Engine(registry, cache if cache is not None else MemoryCache(), **kwargs)


def test_a_chain_computes_its_value_and_shows_it() -> None:
    result = engine().run(add_chain(5, start=10))
    assert result.status == "succeeded"
    assert result.ui["show"].text == ["14"]
    assert result.outputs == {"show": ()}
    assert sorted(result.executed) == ["0", "1", "2", "3", "4", "show"]
    assert CALLS["test.Add"] == 4


def test_explicit_outputs_run_only_what_they_need() -> None:
    g = graph(
        {
            "a": ("test.Const", {"value": 1}),
            "b": ("test.Add", {"a": ["a", 0], "b": 2}),
            "c": ("test.Const", {"value": 5}),
            "show": ("test.Show", {"value": ["c", 0]}),
        }
    )
    result = engine().run(g, outputs=["b"])
    assert result.outputs == {"b": (3,)}
    assert sorted(result.executed) == ["a", "b"]
    assert CALLS["test.Show"] == 0


def test_a_ten_thousand_node_chain_runs() -> None:
    result = engine().run(add_chain(10_000, show=False))
    assert result.status == "succeeded"
    assert result.outputs == {"9999": (9999,)}
    assert len(result.executed) == 10_000


def test_independent_branches_run_in_parallel() -> None:
    g = graph(
        {
            "s1": ("test.Meet", {"value": 1}),
            "s2": ("test.Meet", {"value": 2}),
            "sum": ("test.Add", {"a": ["s1", 0], "b": ["s2", 0]}),
        },
        outputs=["sum"],
    )
    OVERLAP.reset(parties=2)  # each branch waits until the other one runs: sequential branches would hang
    result = engine(parallelism=2).run(g)
    assert result.outputs == {"sum": (3,)}, result.errors
    assert OVERLAP.most == 2


def test_parallelism_one_runs_branches_one_after_another() -> None:
    g = graph(
        {
            "s1": ("test.Meet", {"value": 1}),
            "s2": ("test.Meet", {"value": 2}),
            "sum": ("test.Add", {"a": ["s1", 0], "b": ["s2", 0]}),
        },
        outputs=["sum"],
    )
    OVERLAP.reset()
    result = engine(parallelism=1).run(g)
    assert result.outputs == {"sum": (3,)}
    assert OVERLAP.most == 1


def test_a_second_run_is_served_from_the_cache() -> None:
    cache = MemoryCache()
    first = engine(cache).run(add_chain(20))
    second = engine(cache).run(add_chain(20))
    assert len(first.executed) == 21
    assert second.executed == []
    # The Show node was cached, so its ancestors were not even loaded.
    assert second.cached == ["show"]
    assert second.ui["show"].text == ["19"]
    assert CALLS["test.Add"] == 19


def test_editing_one_input_in_the_middle_reruns_that_node_and_its_descendants() -> None:
    cache = MemoryCache()
    engine(cache).run(add_chain(20))
    CALLS.clear()
    edited = add_chain(20)
    edited.nodes["10"].inputs["b"] = 5
    result = engine(cache).run(edited)
    assert sorted(result.executed, key=lambda n: (n == "show", n.zfill(3))) == [
        *[str(i) for i in range(10, 20)],
        "show",
    ]
    assert result.cached == ["9"]
    assert CALLS["test.Add"] == 10
    assert result.ui["show"].text == ["23"]


def test_cache_keys_ignore_node_ids() -> None:
    cache = MemoryCache()
    engine(cache).run(graph({"a": ("test.Const", {"value": 3}), "s": ("test.Show", {"value": ["a", 0]})}))
    renamed = graph({"x": ("test.Const", {"value": 3}), "y": ("test.Show", {"value": ["x", 0]})})
    result = engine(cache).run(renamed)
    assert result.executed == [] and result.cached == ["y"]


def test_a_default_written_out_shares_the_key_of_a_default_left_out() -> None:
    cache = MemoryCache()
    engine(cache).run(graph({"c": ("test.Concat", {"a": "x"})}, outputs=["c"]))
    result = engine(cache).run(
        graph({"c": ("test.Concat", {"a": "x", "b": "", "separator": ""})}, outputs=["c"])
    )
    assert result.cached == ["c"]


def test_coerced_constants_share_a_key() -> None:
    cache = MemoryCache()
    engine(cache).run(graph({"s": ("test.Sleep", {"seconds": 0})}, outputs=["s"]))
    result = engine(cache).run(graph({"s": ("test.Sleep", {"seconds": 0.0})}, outputs=["s"]))
    assert result.cached == ["s"]


def test_non_deterministic_nodes_and_their_descendants_always_rerun() -> None:
    cache = MemoryCache()
    g = graph(
        {
            "r": ("test.Random", {}),
            "plus": ("test.Add", {"a": ["r", 0], "b": 1}),
            "c": ("test.Const", {"value": 1}),
            "show": ("test.Show", {"value": ["plus", 0]}),
            "show_c": ("test.Show", {"value": ["c", 0]}),
        }
    )
    engine(cache).run(g)
    second = engine(cache).run(g)
    assert sorted(second.executed) == ["plus", "r", "show"]
    assert second.cached == ["show_c"]
    assert CALLS["test.Random"] == 2


class Files:
    def __init__(self, contents: dict[str, bytes]) -> None:
        self.contents = contents

    def open(self, ref: str) -> BinaryIO:
        return BytesIO(self.contents[ref])

    def sha256(self, ref: str) -> str:
        return sha256(self.contents[ref]).hexdigest()


def test_a_fingerprint_reruns_a_node_when_its_file_changes() -> None:
    cache = MemoryCache()
    files = Files({"notes.txt": b"first"})
    g = graph({"f": ("test.ReadFile", {"file": "notes.txt"})}, outputs=["f"])
    assert engine(cache, files=files).run(g).outputs == {"f": ("first",)}
    assert engine(cache, files=files).run(g).cached == ["f"]
    files.contents["notes.txt"] = b"second"
    result = engine(cache, files=files).run(g)
    assert result.executed == ["f"] and result.outputs == {"f": ("second",)}
    assert CALLS["test.ReadFile"] == 2


def test_a_failure_skips_dependents_but_independent_branches_finish() -> None:
    g = graph(
        {
            "c": ("test.Const", {"value": 4}),
            "fail": ("test.FailOnce", {"token": "skip-test", "value": ["c", 0]}),
            "after": ("test.Add", {"a": ["fail", 0], "b": 1}),
            "show_after": ("test.Show", {"value": ["after", 0]}),
            "other": ("test.Add", {"a": ["c", 0], "b": 10}),
            "show_other": ("test.Show", {"value": ["other", 0]}),
        }
    )
    result = engine().run(g)
    assert result.status == "failed"
    assert result.failed == ["fail"]
    assert sorted(result.skipped) == ["after", "show_after"]
    assert result.ui["show_other"].text == ["14"]
    [error] = result.errors
    assert (error.code, error.node, error.message) == (
        "node_failed",
        "fail",
        "first attempt for skip-test fails",
    )


def test_running_again_after_a_failure_resumes_from_the_failed_node() -> None:
    cache = MemoryCache()
    g = graph(
        {
            "c": ("test.Const", {"value": 4}),
            "mid": ("test.Add", {"a": ["c", 0], "b": 1}),
            "fail": ("test.FailOnce", {"token": "resume-test", "value": ["mid", 0]}),
            "after": ("test.Add", {"a": ["fail", 0], "b": 1}),
            "show": ("test.Show", {"value": ["after", 0]}),
        }
    )
    first = engine(cache).run(g)
    assert first.status == "failed" and sorted(first.executed) == ["c", "mid"]
    second = engine(cache).run(g)
    assert second.status == "succeeded"
    assert second.executed == ["fail", "after", "show"]
    assert second.cached == ["mid"]
    assert second.ui["show"].text == ["6"]
    assert CALLS["test.Const"] == 1


def test_an_unexpected_exception_fails_with_its_traceback_and_a_node_error_without() -> None:
    events: list[Event] = []
    g = graph(
        {
            "crash": ("test.Crash", {"value": 0}),
            "fail": ("test.FailOnce", {"token": "tb-test"}),
        },
        outputs=["crash", "fail"],
    )
    result = engine().run(g, on_event=events.append)
    assert sorted(result.failed) == ["crash", "fail"]
    failed = {e.node: e.data for e in events if e.type == "node_failed"}
    assert failed["crash"]["error"] == "ZeroDivisionError: integer division or modulo by zero"
    assert failed["crash"]["error_type"] == "ZeroDivisionError"
    assert "1 // inputs.value" in failed["crash"]["traceback"]
    assert failed["fail"]["error_type"] == "NodeError"
    assert failed["fail"]["traceback"] is None


def test_an_output_of_the_wrong_type_fails_the_node() -> None:
    result = engine().run(graph({"w": ("test.WrongOutput", {})}, outputs=["w"]))
    assert result.status == "failed"
    assert result.errors[0].message == "test.WrongOutput output 'image' should be IMAGE, got str"


def test_cancelling_mid_progress_stops_the_node_and_the_run() -> None:
    cancel = threading.Event()
    events: list[Event] = []

    def on_event(event: Event) -> None:
        events.append(event)
        if event.type == "progress" and event.data["value"] == 2:
            cancel.set()

    g = graph(
        {
            "steps": ("test.Steps", {"steps": 100}),
            "after": ("test.Add", {"a": ["steps", 0]}),
        },
        outputs=["after"],
    )
    result = engine().run(g, on_event=on_event, cancel=cancel)
    assert result.status == "cancelled"
    assert result.executed == []
    assert sorted(result.skipped) == ["after", "steps"]
    assert [e.data["value"] for e in events if e.type == "progress"] == [1, 2]
    assert events[-2].type == "nodes_skipped" and events[-2].data["reason"] == "cancelled"
    assert events[-1].data["status"] == "cancelled"


def test_a_run_cancelled_before_it_starts_executes_nothing() -> None:
    cancel = threading.Event()
    cancel.set()
    result = engine().run(add_chain(3), cancel=cancel)
    assert result.status == "cancelled" and result.executed == []
    assert CALLS.total() == 0


def test_an_invalid_graph_does_not_run() -> None:
    result = engine().run(graph({"a": ("test.Add", {"a": "x"})}, outputs=["a"]))
    assert result.status == "invalid"
    assert [(e.code, e.node, e.input) for e in result.errors] == [("invalid_value", "a", "a")]
    assert CALLS.total() == 0


class LyingCache(MemoryCache):
    """Claims to hold every key but loses the entries named in ``lost`` (evicted after the lookup)."""

    def __init__(self, lost_types: set[str]) -> None:
        super().__init__()
        self.lost_types = lost_types

    def contains_many(self, keys: Sequence[str]) -> set[str]:
        return set(keys)

    def get(self, key: str) -> CacheEntry | None:
        entry = super().get(key)
        if entry is not None and entry.node_type in self.lost_types:
            return None
        return entry


def test_an_entry_lost_between_lookup_and_load_is_executed_with_its_ancestors() -> None:
    cache = LyingCache(lost_types={"test.Show", "test.Add"})
    engine(cache).run(add_chain(4))
    CALLS.clear()
    events: list[Event] = []
    result = engine(cache).run(add_chain(4), on_event=events.append)
    assert result.status == "succeeded"
    assert result.ui["show"].text == ["3"]
    # Show and every Add were lost, so they execute; Const is still there and loads.
    assert sorted(result.executed) == ["1", "2", "3", "show"]
    assert result.cached == ["0"]
    assert CALLS["test.Add"] == 3 and CALLS["test.Const"] == 0
    cached_events = [e.data["nodes"] for e in events if e.type == "nodes_cached"]
    assert cached_events[0] == ["show"]
    assert ["0"] in cached_events


def test_an_entry_evicted_from_a_tiny_cache_is_recomputed() -> None:
    # A budget that holds only a few small entries: the chain's early results are evicted by the end.
    cache = MemoryCache(max_bytes=40)
    engine(cache).run(add_chain(10))
    edited = add_chain(10)
    edited.nodes["3"].inputs["b"] = 2
    result = engine(cache).run(edited)
    assert result.ui["show"].text == ["10"]
    assert cache.evictions > 0


def test_images_flow_through_links() -> None:
    g = graph(
        {
            "img": ("test.MakeImage", {"size": 3}),
            "bright": ("test.Brightness", {"image": ["img", 0], "amount": 0.25}),
        },
        outputs=["bright"],
    )
    [image] = engine().run(g).outputs["bright"]
    assert image.shape == (1, 3, 3, 3)
    assert np.allclose(image, 0.25)


class BrokenCache(MemoryCache):
    """A store whose every call fails, like a database that went away."""

    def contains_many(self, keys: Sequence[str]) -> set[str]:
        raise ConnectionError("index unreachable")

    def put(self, key: str, entry: CacheEntry) -> None:
        raise ConnectionError("blob store unreachable")


def test_a_failing_cache_store_does_not_fail_the_run() -> None:
    result = engine(BrokenCache()).run(add_chain(3))
    assert result.status == "succeeded"
    assert result.ui["show"].text == ["2"]


def test_a_failing_event_listener_does_not_stop_the_run() -> None:
    def on_event(event: Event) -> None:
        raise RuntimeError("listener bug")

    result = engine().run(add_chain(3), on_event=on_event)
    assert result.status == "succeeded" and result.events == 10


def test_cancelling_between_nodes_stops_at_the_next_node() -> None:
    cancel = threading.Event()

    def on_event(event: Event) -> None:
        if event.type == "node_finished" and event.node == "1":
            cancel.set()

    result = engine().run(add_chain(5), on_event=on_event, cancel=cancel)
    assert result.status == "cancelled"
    assert result.executed == ["0", "1"]
    assert sorted(result.skipped) == ["2", "3", "4", "show"]
    assert CALLS["test.Add"] == 1


def test_one_engine_serves_concurrent_runs() -> None:
    shared = engine(parallelism=2)
    g = graph(
        {
            "s1": ("test.Sleep", {"seconds": 0.05, "value": 1}),
            "s2": ("test.Sleep", {"seconds": 0.05, "value": 2}),
            "sum": ("test.Add", {"a": ["s1", 0], "b": ["s2", 0]}),
        },
        outputs=["sum"],
    )
    results = []
    threads = [threading.Thread(target=lambda: results.append(shared.run(g))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    shared.close()
    assert [r.outputs for r in results] == [{"sum": (3,)}] * 3


def test_a_finished_run_leaves_no_reference_cycles_for_the_collector() -> None:
    import gc

    run_engine = engine()
    run_engine.run(add_chain(5, start=1), on_event=lambda event: None)  # warm: node types, caches
    gc.collect()
    gc.disable()
    try:
        result = run_engine.run(add_chain(200, start=2), on_event=lambda event: None)
        assert result.status == "succeeded"
        del result
        # A run's state (its plan, values, events) is freed by reference counting, not by a full collection.
        assert gc.collect() == 0
    finally:
        gc.enable()
