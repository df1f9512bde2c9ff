import pytest

from nodepacks import sdk
from workers.engine import GraphFormatError, NodeRegistry, compute_cache_keys
from workers.engine.tests import nodes
from workers.engine.tests.helpers import add_chain, graph
from workers.engine.tests.nodes import registry


def test_keys_depend_on_content_not_on_node_ids() -> None:
    first = compute_cache_keys(graph({"a": ("test.Const", {"value": 1})}, outputs=["a"]), registry)
    second = compute_cache_keys(graph({"zz": ("test.Const", {"value": 1})}, outputs=["zz"]), registry)
    assert first["a"] == second["zz"]


def test_a_changed_constant_changes_that_node_and_its_descendants_only() -> None:
    before = compute_cache_keys(add_chain(6), registry)
    edited = add_chain(6)
    edited.nodes["3"].inputs["b"] = 7
    after = compute_cache_keys(edited, registry)
    changed = {node for node in before if before[node] != after[node]}
    assert changed == {"3", "4", "5", "show"}


def test_keys_change_with_the_pack_version() -> None:
    other_version = NodeRegistry([sdk.Pack(name="enginetest", version="1.0.1", nodes=list(nodes.pack.nodes))])
    g = graph({"a": ("test.Const", {"value": 1})}, outputs=["a"])
    assert compute_cache_keys(g, registry)["a"] != compute_cache_keys(g, other_version)["a"]


def test_keys_change_with_the_node_code_version() -> None:
    class ConstV2(nodes.Const):
        id = "test.Const"
        version = "2"

    upgraded = NodeRegistry([sdk.Pack(name="enginetest", version="1.0.0", nodes=[ConstV2])])
    g = graph({"a": ("test.Const", {"value": 1})}, outputs=["a"])
    assert compute_cache_keys(g, registry)["a"] != compute_cache_keys(g, upgraded)["a"]


def test_linked_inputs_are_keyed_by_input_name_and_output_index() -> None:
    swapped = graph(
        {
            "x": ("test.Const", {"value": 1}),
            "y": ("test.Const", {"value": 2}),
            "s": ("test.Add", {"a": ["x", 0], "b": ["y", 0]}),
        },
        outputs=["s"],
    )
    original = compute_cache_keys(swapped, registry)["s"]
    swapped.nodes["s"].inputs = {"a": swapped.nodes["s"].inputs["b"], "b": swapped.nodes["s"].inputs["a"]}
    assert compute_cache_keys(swapped, registry)["s"] != original


def test_non_deterministic_keys_are_fresh_every_time() -> None:
    g = graph({"r": ("test.Random", {}), "plus": ("test.Add", {"a": ["r", 0]})}, outputs=["plus"])
    first, second = compute_cache_keys(g, registry), compute_cache_keys(g, registry)
    assert first["r"] != second["r"] and first["plus"] != second["plus"]


def test_an_invalid_graph_has_no_keys() -> None:
    with pytest.raises(GraphFormatError) as raised:
        compute_cache_keys(graph({"a": ("test.Add", {"a": "x"})}, outputs=["a"]), registry)
    assert [e.code for e in raised.value.errors] == ["invalid_value"]
