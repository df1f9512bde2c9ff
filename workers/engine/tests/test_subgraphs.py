from typing import Any

import pytest

from workers.engine import Engine, GraphFormatError, MemoryCache, parse_graph, validate_graph
from workers.engine.subgraphs import flatten, has_subgraphs, instance_of, parse_subgraphs, subgraphs_to_json
from workers.engine.tests.nodes import registry

# Adds 10 to its input "x" (falls back to 5 when unconnected); output "sum".
ADD_TEN: dict[str, Any] = {
    "name": "Add ten",
    "inputs": [{"name": "x", "type": "INT", "targets": [["1", "a"]]}, {"name": "unused", "type": "INT"}],
    "outputs": [{"name": "sum", "type": "INT", "source": ["1", 0]}],
    "nodes": {"1": {"type": "test.Add", "inputs": {"a": 5, "b": 10}}},
}
# Shows its input "v", which the inner node only gets through the boundary (no value of its own).
SHOW_IT: dict[str, Any] = {
    "name": "Show it",
    "inputs": [{"name": "v", "type": "INT", "targets": [["1", "value"]]}],
    "nodes": {"1": {"type": "test.Show", "inputs": {}}},
}


def run(graph: dict[str, Any]) -> Any:
    return Engine(registry, MemoryCache()).run(parse_graph(flatten(graph)))


def test_an_instance_becomes_its_inner_nodes_with_path_ids() -> None:
    graph = {
        "nodes": {
            "7": {"type": "test.Const", "inputs": {"value": 3}},
            "12": {"type": "subgraph:ten", "inputs": {"x": ["7", 0]}},
            "show": {"type": "test.Show", "inputs": {"value": ["12", 0]}},
        },
        "subgraphs": {"ten": ADD_TEN},
    }
    flat = flatten(graph)
    assert flat["nodes"] == {
        "7": {"type": "test.Const", "inputs": {"value": 3}},
        "12:1": {"type": "test.Add", "inputs": {"a": ["7", 0], "b": 10}},
        "show": {"type": "test.Show", "inputs": {"value": ["12:1", 0]}},
    }
    result = run(graph)
    assert result.status == "succeeded"
    assert result.ui["show"].text == ["13"]
    assert instance_of("12:1") == "12"


def test_an_input_only_the_boundary_feeds_reaches_the_inner_node() -> None:
    graph = {
        "nodes": {
            "1": {"type": "test.Const", "inputs": {"value": 8}},
            "2": {"type": "subgraph:show", "inputs": {"v": ["1", 0]}},
        },
        "subgraphs": {"show": SHOW_IT},
    }
    assert flatten(graph)["nodes"]["2:1"] == {"type": "test.Show", "inputs": {"value": ["1", 0]}}
    assert run(graph).ui["2:1"].text == ["8"]


def test_an_unconnected_input_falls_back_to_the_inner_widget_and_a_constant_overrides_it() -> None:
    nodes = {"show": {"type": "test.Show", "inputs": {"value": ["12", 0]}}}
    unconnected = {
        "nodes": {**nodes, "12": {"type": "subgraph:ten", "inputs": {}}},
        "subgraphs": {"ten": ADD_TEN},
    }
    assert run(unconnected).ui["show"].text == ["15"]
    constant = {
        "nodes": {**nodes, "12": {"type": "subgraph:ten", "inputs": {"x": 1}}},
        "subgraphs": {"ten": ADD_TEN},
    }
    assert run(constant).ui["show"].text == ["11"]


def test_nested_subgraphs_flatten_recursively_and_instances_chain() -> None:
    twice = {
        "name": "Add twenty",
        "inputs": [{"name": "x", "type": "INT", "targets": [["3", "x"]]}],
        "outputs": [{"name": "sum", "type": "INT", "source": ["4", 0]}],
        "nodes": {
            "3": {"type": "subgraph:ten", "inputs": {}},
            "4": {"type": "subgraph:ten", "inputs": {"x": ["3", 0]}},
        },
    }
    graph = {
        "nodes": {
            "1": {"type": "test.Const", "inputs": {"value": 1}},
            "2": {"type": "subgraph:twice", "inputs": {"x": ["1", 0]}},
            "5": {"type": "subgraph:twice", "inputs": {"x": ["2", 0]}},
            "show": {"type": "test.Show", "inputs": {"value": ["5", 0]}},
        },
        "subgraphs": {"ten": ADD_TEN, "twice": twice},
    }
    flat = flatten(graph)
    assert sorted(flat["nodes"]) == ["1", "2:3:1", "2:4:1", "5:3:1", "5:4:1", "show"]
    assert flat["nodes"]["2:4:1"]["inputs"]["a"] == ["2:3:1", 0]
    assert flat["nodes"]["5:3:1"]["inputs"]["a"] == ["2:4:1", 0]
    assert run(graph).ui["show"].text == ["41"]


def test_a_passed_through_input_and_requested_instance_outputs() -> None:
    passing = {
        "name": "Pass",
        "inputs": [{"name": "v", "type": "INT"}],
        "outputs": [{"name": "v", "type": "INT", "source": {"input": "v"}}],
        "nodes": {"1": {"type": "test.Add", "inputs": {"a": 1}}},
    }
    graph = {
        "nodes": {
            "1": {"type": "test.Const", "inputs": {"value": 4}},
            "2": {"type": "subgraph:p", "inputs": {"v": ["1", 0]}},
            "3": {"type": "test.Add", "inputs": {"a": ["2", 0], "b": 1}},
        },
        "outputs": ["2", "3"],
        "subgraphs": {"p": passing},
    }
    flat = flatten(graph)
    assert flat["nodes"]["3"]["inputs"]["a"] == ["1", 0]
    assert flat["outputs"] == ["2:1", "3"]


def test_errors_name_the_instance_and_what_is_missing() -> None:
    broken = {**ADD_TEN, "outputs": [{"name": "sum", "type": "INT", "source": None}]}
    graph = {
        "nodes": {
            "12": {"type": "subgraph:broken", "inputs": {"nope": 1}},
            "13": {"type": "subgraph:gone", "inputs": {}},
            "show": {"type": "test.Show", "inputs": {"value": ["12", 0]}},
        },
        "subgraphs": {"broken": broken},
    }
    with pytest.raises(GraphFormatError) as caught:
        flatten(graph)
    found = {(e.code, e.node, e.input) for e in caught.value.errors}
    assert found == {("unknown_input", "12", "nope"), ("unknown_subgraph", "13", None)}
    # An output not connected inside: the consumer's input stays empty, and origins name the instance.
    del graph["nodes"]["13"]
    graph["nodes"]["12"]["inputs"] = {}
    origins: dict[tuple[str, str], tuple[str, str]] = {}
    flat = flatten(graph, origins=origins)
    assert flat["nodes"]["show"]["inputs"] == {}
    assert origins[("show", "value")] == ("12", "sum")


def test_a_subgraph_that_contains_itself_is_an_error() -> None:
    loop = {"name": "Loop", "nodes": {"1": {"type": "subgraph:loop", "inputs": {}}}}
    with pytest.raises(GraphFormatError) as caught:
        flatten({"nodes": {"9": {"type": "subgraph:loop", "inputs": {}}}, "subgraphs": {"loop": loop}})
    assert [(e.code, e.node) for e in caught.value.errors] == [("subgraph_cycle", "9:1")]


def test_an_input_nothing_reaches_is_reported_through_origins_and_validation_keeps_path_ids() -> None:
    socket_only = {
        "name": "Show it",
        "inputs": [{"name": "what", "type": "*", "targets": [["1", "value"]]}],
        "nodes": {"1": {"type": "test.Show", "inputs": {}}, "2": {"type": "test.Add", "inputs": {"a": "x"}}},
    }
    origins: dict[tuple[str, str], tuple[str, str]] = {}
    flat = flatten(
        {"nodes": {"4": {"type": "subgraph:s", "inputs": {}}}, "subgraphs": {"s": socket_only}},
        origins=origins,
    )
    assert origins == {("4:1", "value"): ("4", "what")}
    errors = validate_graph(parse_graph(flat), registry, outputs=["4:1", "4:2"])
    assert {(e.code, e.node, e.input) for e in errors} == {
        ("missing_input", "4:1", "value"),
        ("invalid_value", "4:2", "a"),
    }


def test_definitions_round_trip_and_plain_graphs_pass_unchanged() -> None:
    assert subgraphs_to_json(parse_subgraphs({"ten": ADD_TEN}))["ten"]["outputs"] == ADD_TEN["outputs"]
    labelled = {
        "name": "L",
        "inputs": [{"name": "a", "type": "INT", "label": "Alpha", "targets": [["1", "x"]]}],
    }
    assert subgraphs_to_json(parse_subgraphs({"l": labelled}))["l"]["inputs"] == labelled["inputs"]
    plain = {"nodes": {"1": {"type": "test.Const", "inputs": {"value": 1}}}}
    assert not has_subgraphs(plain)
    assert has_subgraphs({"nodes": {"1": {"type": "subgraph:x", "inputs": {}}}})
    assert flatten(plain) == plain
    with pytest.raises(GraphFormatError):
        parse_subgraphs({"x": {"nodes": {}, "inputs": [{"type": "INT"}]}})
