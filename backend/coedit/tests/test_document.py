"""The JSON document <-> Y.Doc mapping (document.py): round trips, and concurrent edits merging."""

from __future__ import annotations

import copy
import json
from typing import Any

from pycrdt import Doc, Map

from backend.coedit.document import doc_from_document, document_from_doc, move_node, set_widget
from backend.workflows.documents import canonical_json, parse_document

GRAPH = {
    "nodes": {
        "1": {
            "type": "Load",
            "inputs": {"seed": 2**60, "cfg": 1.5, "steps": 3, "odd": {"__value__": ["a", 1]}},
        },
        "2": {"type": "Save", "inputs": {"image": ["1", 0], "prefix": "out"}},
        "10": {"type": "Note", "inputs": {}},
    },
    "outputs": ["2"],
    "subgraphs": {"sub": {"nodes": {"1": {"type": "Inner", "inputs": {}}}}},
}
LAYOUT = {
    "nodes": {"1": {"x": 1.0, "y": 2.5, "mode": "bypass", "title": "Loader"}, "2": {"x": 300.0, "y": 0.0}},
    "groups": [{"id": "g1", "title": "Inputs", "x": 0.0, "y": 0.0, "width": 400.0, "height": 200.0}],
    "notes": [{"id": "n1", "x": 5.0, "y": 5.0, "text": "hello", "markdown": True}],
    "reroutes": [],
    "viewport": {"x": 0.0, "y": 0.0, "zoom": 1.0},
    "app": {"inputs": [{"name": "seed", "node": "1", "input": "seed", "min": 0, "max": 10}], "outputs": []},
}


def replica(doc: Doc) -> Doc:
    other: Doc[Any] = Doc()
    other.apply_update(doc.get_update())
    return other


def test_a_document_reads_back_the_same_from_another_replica():
    graph, layout = document_from_doc(replica(doc_from_document(GRAPH, LAYOUT)))
    assert canonical_json(graph) == canonical_json(GRAPH)
    assert canonical_json(layout) == canonical_json(LAYOUT)
    assert graph["nodes"]["1"]["inputs"]["seed"] == 2**60 and isinstance(
        graph["nodes"]["1"]["inputs"]["steps"], int
    )


def test_a_parsed_document_keeps_its_content_hash_through_the_doc():
    document = parse_document(copy.deepcopy(GRAPH), {k: v for k, v in LAYOUT.items() if k != "app"})
    again = parse_document(*document_from_doc(doc_from_document(document.graph, document.layout)))
    assert again.content_hash == document.content_hash


def test_concurrent_edits_of_different_widgets_both_survive_and_the_same_widget_converges():
    a = doc_from_document(GRAPH, LAYOUT)
    b, c = replica(a), replica(a)
    set_widget(a, "1", "steps", 20)
    set_widget(b, "1", "cfg", 7.5)
    move_node(c, "1", 50.0, 60.0)
    set_widget(a, "2", "prefix", "from a")
    set_widget(b, "2", "prefix", "from b")
    updates = [doc.get_update() for doc in (a, b, c)]
    for doc in (a, b, c):
        for update in updates:
            doc.apply_update(update)
    results = [canonical_json(document_from_doc(doc)) for doc in (a, b, c)]
    assert results[0] == results[1] == results[2]
    graph, layout = document_from_doc(a)
    assert graph["nodes"]["1"]["inputs"]["steps"] == 20 and graph["nodes"]["1"]["inputs"]["cfg"] == 7.5
    assert layout["nodes"]["1"]["x"] == 50.0 and layout["nodes"]["1"]["mode"] == "bypass"
    assert graph["nodes"]["2"]["inputs"]["prefix"] in ("from a", "from b")


def test_a_node_deleted_while_another_edits_it_stays_deleted():
    a = doc_from_document(GRAPH, LAYOUT)
    b = replica(a)
    a.get("nodes", type=Map).pop("2")
    set_widget(b, "2", "prefix", "late edit")
    a.apply_update(b.get_update())
    b.apply_update(a.get_update())
    assert "2" not in document_from_doc(a)[0]["nodes"] and "2" not in document_from_doc(b)[0]["nodes"]


def test_edits_inside_a_subgraph_merge_node_by_node_and_an_old_whole_value_still_reads():
    graph: dict[str, Any] = copy.deepcopy(GRAPH)
    graph["subgraphs"]["sub"] = {
        "name": "Inner part",
        "inputs": [{"name": "x", "type": "INT"}],
        "nodes": {
            "1": {"type": "Inner", "inputs": {"x": 1}},
            "2": {"type": "Other", "inputs": {"a": ["1", 0]}},
        },
    }
    layout: dict[str, Any] = {
        **copy.deepcopy(LAYOUT),
        "subgraphs": {"sub": {"nodes": {"1": {"x": 0.0, "y": 0.0}}, "groups": []}},
    }
    a = doc_from_document(graph, layout)
    b = replica(a)
    sub_a = a.get("subgraphs", type=Map)["sub"]
    sub_b = b.get("subgraphs", type=Map)["sub"]
    with a.transaction():
        sub_a["nodes"]["1"]["inputs"]["x"] = "5"
    with b.transaction():
        sub_b["nodes"]["2"]["inputs"]["a"] = '["1",1]'
        sub_b["nodes"]["1"]["x"] = "40"
    a.apply_update(b.get_update())
    b.apply_update(a.get_update())
    merged = document_from_doc(a)
    assert canonical_json(document_from_doc(b)) == canonical_json(merged)
    inner = merged[0]["subgraphs"]["sub"]
    assert inner["name"] == "Inner part" and inner["inputs"] == [{"name": "x", "type": "INT"}]
    assert inner["nodes"]["1"]["inputs"] == {"x": 5}
    assert inner["nodes"]["2"]["inputs"] == {"a": ["1", 1]}
    assert merged[1]["subgraphs"]["sub"]["nodes"]["1"] == {"x": 40, "y": 0.0}

    # A draft stored before subgraphs merged finer holds each one as a single {graph, layout} value.
    old = doc_from_document(graph, layout)
    with old.transaction():
        old.get("subgraphs", type=Map)["sub"] = json.dumps(
            {"graph": graph["subgraphs"]["sub"], "layout": layout["subgraphs"]["sub"]}
        )
    assert canonical_json(document_from_doc(old)) == canonical_json((graph, layout))
