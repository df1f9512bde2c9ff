from typing import Any

from workers.engine import Graph, GraphError, Link, validate_graph
from workers.engine.tests.helpers import add_chain, graph
from workers.engine.tests.nodes import registry


def errors_of(g: Graph, **kwargs: Any) -> set[tuple[str, str | None, str | None]]:
    return {(e.code, e.node, e.input) for e in validate_graph(g, registry, **kwargs)}


def test_valid_graph_has_no_errors() -> None:
    assert validate_graph(add_chain(5), registry) == []


def test_every_error_in_a_graph_is_reported_at_once() -> None:
    g = graph(
        {
            "img": ("test.MakeImage", {"size": 4}),
            "bad_type": ("test.Nope", {}),
            "missing": ("test.Brightness", {"amount": 0.5}),
            "unknown_input": ("test.Const", {"value": 1, "colour": "red"}),
            "dangling": ("test.Add", {"a": ["ghost", 0]}),
            "bad_index": ("test.Add", {"a": ["unknown_input", 3]}),
            "mismatch": ("test.Brightness", {"image": ["unknown_input", 0]}),
            "range": ("test.Brightness", {"image": ["img", 0], "amount": 7}),
            "option": ("test.Concat", {"separator": "+"}),
            "constant": ("test.Number", {"x": 3}),
            "widget_link": ("test.Brightness", {"image": ["img", 0], "mode": ["option", 0]}),
            "show": ("test.Show", {"value": ["img", 0]}),
        },
        outputs=[
            "bad_type",
            "missing",
            "unknown_input",
            "dangling",
            "bad_index",
            "mismatch",
            "range",
            "option",
            "constant",
            "widget_link",
            "show",
            "nowhere",
        ],
    )
    assert errors_of(g) == {
        ("unknown_node_type", "bad_type", None),
        ("missing_input", "missing", "image"),
        ("unknown_input", "unknown_input", "colour"),
        ("missing_link_node", "dangling", "a"),
        ("bad_output_index", "bad_index", "a"),
        ("type_mismatch", "mismatch", "image"),
        ("invalid_value", "range", "amount"),
        ("invalid_value", "option", "separator"),
        ("constant_not_allowed", "constant", "x"),
        ("link_not_allowed", "widget_link", "mode"),
        ("unknown_output_node", "nowhere", None),
    }


def test_error_messages_explain_the_problem() -> None:
    g = graph(
        {
            "img": ("test.MakeImage", {}),
            "b": ("test.Brightness", {"image": ["img", 0], "amount": 7}),
            "c": ("test.Concat", {"separator": "+"}),
            "n": ("test.Brightness", {"image": ["c", 0]}),
        },
        outputs=["b", "c", "n"],
    )
    messages = {(e.node, e.input): e.message for e in validate_graph(g, registry)}
    assert "less than or equal to 1" in messages[("b", "amount")]
    assert "'+' is not one of the options" in messages[("c", "separator")]
    assert messages[("n", "image")] == "expects IMAGE, but output 0 of node c is STRING"


def test_any_and_union_inputs_accept_compatible_links() -> None:
    g = graph(
        {
            "i": ("test.Const", {"value": 2}),
            "n": ("test.Number", {"x": ["i", 0]}),
            "show": ("test.Show", {"value": ["n", 0]}),
        }
    )
    assert validate_graph(g, registry) == []


def test_dynamic_options_are_checked_when_the_source_knows_them() -> None:
    g = graph({"p": ("test.PickUpload", {"name": "cat.png"})}, outputs=["p"])
    known = {"uploads.image": ["dog.png"]}
    assert errors_of(g, option_sources=known.get) == {("invalid_value", "p", "name")}
    assert errors_of(g, option_sources=lambda source: ["cat.png"]) == set()
    assert errors_of(g, option_sources=lambda source: None) == set()
    (error,) = validate_graph(g, registry, option_sources=known.get)
    assert error.message == "'cat.png' is not an uploaded file in this workspace"


def test_a_graph_without_output_nodes_has_nothing_to_run() -> None:
    g = graph({"c": ("test.Const", {"value": 1})})
    assert validate_graph(g, registry) == [
        GraphError("no_outputs", "nothing to run: the graph has no output nodes")
    ]


def test_only_the_nodes_the_outputs_need_are_validated() -> None:
    g = graph(
        {"c": ("test.Const", {"value": 1}), "broken": ("test.Add", {"a": "not a number"})},
        outputs=["c"],
    )
    assert validate_graph(g, registry) == []


def test_unknown_node_types_anywhere_fail_a_run_of_the_default_outputs() -> None:
    g = graph({"c": ("test.Const", {}), "s": ("test.Show", {"value": ["c", 0]}), "x": ("test.Nope", {})})
    assert errors_of(g) == {("unknown_node_type", "x", None)}


def test_a_cycle_is_reported_once_naming_its_nodes_in_flow_order() -> None:
    g = graph(
        {
            "a": ("test.Add", {"a": ["c", 0]}),
            "b": ("test.Add", {"a": ["a", 0]}),
            "c": ("test.Add", {"a": ["b", 0]}),
            "after": ("test.Add", {"a": ["c", 0]}),
            "show": ("test.Show", {"value": ["after", 0]}),
        }
    )
    errors = validate_graph(g, registry)
    assert [e.code for e in errors] == ["cycle"]
    path = errors[0].message.split(": ", 1)[1].split(" -> ")
    assert path[0] == path[-1] and sorted(path[:-1]) == ["a", "b", "c"]
    # Flow order: each node feeds the next.
    feeds = {("a", "b"), ("b", "c"), ("c", "a")}
    assert set(zip(path, path[1:], strict=False)) == feeds


def test_a_self_loop_is_a_cycle() -> None:
    g = graph({"a": ("test.Add", {"a": ["a", 0]})}, outputs=["a"])
    assert errors_of(g) == {("cycle", "a", None)}


def test_a_chain_of_ten_thousand_nodes_validates_without_recursion() -> None:
    assert validate_graph(add_chain(10_000), registry) == []


def test_a_ten_thousand_node_cycle_is_found() -> None:
    g = add_chain(10_000)
    g.nodes["0"].type = "test.Add"
    g.nodes["0"].inputs = {"a": Link("9999", 0)}
    errors = validate_graph(g, registry)
    assert [e.code for e in errors] == ["cycle"]
    assert errors[0].message.count(" -> ") == 10_000
