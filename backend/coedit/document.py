"""The workflow document ({graph, layout}, backend/workflows/documents.py) as a Yjs document, both ways.

The same mapping is written in TypeScript (frontend/src/coedit/doc-model.ts); docs/architecture.md, "Live
co-editing", shows it. Root shared types of the Y.Doc:

- ``nodes``: Y.Map node id -> Y.Map with ``type`` (when the node is in the graph), ``inputs`` (Y.Map input name ->
  value: a widget constant or a link ``[node, output]``), and its layout fields as separate keys (``x``, ``y``,
  ``width``, ``height``, ``collapsed``, ``mode``, ``title``; present when the node has a layout entry). Two people
  changing two widgets, or one moving a node while another edits its widget, touch different keys and both
  survive; two people setting the same key converge on one value (Yjs' last-writer-wins per map key).
- ``groups``, ``notes``, ``reroutes``: Y.Array of Y.Map, one map per item, one key per field (order kept).
- ``app``: Y.Map with ``inputs`` and ``outputs``, each a Y.Array of Y.Map (the layout's app section).
- ``subgraphs``: Y.Map subgraph id -> Y.Map with ``nodes`` (a Y.Map of nodes exactly as the root's, so edits
  inside a subgraph merge node by node, widget by widget), ``graph`` (the definition less its nodes: name,
  inputs, outputs) and ``layout`` (the subgraph's layout less its nodes; ``null`` when it has none), those two
  one value each. A draft written before subgraphs merged finer holds ``{"graph": ..., "layout": ...}`` as one
  value per subgraph; both are read.
- ``meta``: Y.Map with ``schema`` (the mapping's version), the graph's ``outputs``, the ``viewport`` and
  ``sections`` (the optional layout lists present in the document, so that an empty list and no list survive).

Every leaf value is stored as JSON text: Yjs and pycrdt disagree on numbers (pycrdt reads every number as a
float, and writes large integers as BigInt, which JSON cannot carry), while JSON text keeps an int an int and a
seed of 2**60 exact on the server, exactly as the REST API would carry it.
"""

from __future__ import annotations

import json
from typing import Any

from pycrdt import Array, Doc, Map

SCHEMA = 1
NODE_LAYOUT_KEYS = ("x", "y", "width", "height", "collapsed", "mode", "title")
ITEM_LISTS = ("groups", "notes", "reroutes")


def _text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _value(text: Any) -> Any:
    return json.loads(text) if isinstance(text, str) else text


def _item_map(item: dict[str, Any]) -> Map:
    return Map({key: _text(value) for key, value in item.items()})


def _item(item: Any) -> dict[str, Any]:
    return {key: _value(value) for key, value in item.items()} if isinstance(item, Map) else {}


def roots(doc: Doc) -> dict[str, Any]:
    """The document's root shared types by name (created empty when missing)."""
    return {
        "nodes": doc.get("nodes", type=Map),
        "groups": doc.get("groups", type=Array),
        "notes": doc.get("notes", type=Array),
        "reroutes": doc.get("reroutes", type=Array),
        "app": doc.get("app", type=Map),
        "subgraphs": doc.get("subgraphs", type=Map),
        "meta": doc.get("meta", type=Map),
    }


def node_map(node_type: str | None, inputs: dict[str, Any], layout: dict[str, Any] | None) -> Map:
    """A node's Y.Map (not yet in a document): ``node_type`` None for a layout entry without a graph node."""
    fields: dict[str, Any] = {}
    if node_type is not None:
        fields["type"] = _text(node_type)
        fields["inputs"] = Map({name: _text(value) for name, value in inputs.items()})
    for key in NODE_LAYOUT_KEYS:
        if layout is not None and layout.get(key) is not None:
            fields[key] = _text(layout[key])
    return Map(fields)


def _node_maps(graph_nodes: Any, layout_nodes: Any) -> dict[str, Map]:
    """The Y.Maps of nodes (graph nodes and their layout entries, the root's or a subgraph's) by id."""
    graph_nodes = graph_nodes if isinstance(graph_nodes, dict) else {}
    layout_nodes = layout_nodes if isinstance(layout_nodes, dict) else {}
    maps = {
        node_id: node_map(str(node.get("type")), dict(node.get("inputs") or {}), layout_nodes.get(node_id))
        for node_id, node in graph_nodes.items()
    }
    for node_id, entry in layout_nodes.items():
        if node_id not in graph_nodes:
            maps[node_id] = node_map(None, {}, entry)
    return maps


def _read_nodes(source: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The graph nodes and layout entries of a nodes Y.Map (the root's or a subgraph's)."""
    nodes: dict[str, Any] = {}
    layout_nodes: dict[str, Any] = {}
    if not isinstance(source, Map):
        return nodes, layout_nodes
    for node_id, node in source.items():
        if not isinstance(node, Map):
            continue
        if "type" in node:
            inputs = node.get("inputs")
            nodes[node_id] = {
                "type": _value(node["type"]),
                "inputs": _item(inputs) if isinstance(inputs, Map) else {},
            }
        entry = {key: _value(node[key]) for key in NODE_LAYOUT_KEYS if key in node}
        if "x" in entry and "y" in entry:
            layout_nodes[node_id] = entry
    return nodes, layout_nodes


def _without_nodes(value: Any) -> dict[str, Any] | None:
    return {key: v for key, v in value.items() if key != "nodes"} if isinstance(value, dict) else None


def subgraph_map(definition: Any, layout: Any) -> Map:
    """A subgraph's Y.Map (not yet in a document): nodes as the root's, the rest of each part one value."""
    nodes = _node_maps(
        definition.get("nodes") if isinstance(definition, dict) else None,
        layout.get("nodes") if isinstance(layout, dict) else None,
    )
    return Map(
        {
            "nodes": Map(nodes),
            "graph": _text(_without_nodes(definition)),
            "layout": _text(_without_nodes(layout)),
        }
    )


def subgraph_of(stored: Any) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """A subgraph entry as ``(definition, layout)`` (each None when absent), stored either way."""
    if not isinstance(stored, Map):
        entry = _value(stored) or {}
        return entry.get("graph"), entry.get("layout")
    graph_rest = _value(stored.get("graph", "null"))
    layout_rest = _value(stored.get("layout", "null"))
    nodes, layout_nodes = _read_nodes(stored.get("nodes"))
    return (
        {**graph_rest, "nodes": nodes} if graph_rest is not None else None,
        {**layout_rest, "nodes": layout_nodes} if layout_rest is not None else None,
    )


def fill_doc(doc: Doc, graph: dict[str, Any], layout: dict[str, Any] | None) -> None:
    """Write the JSON document into an empty ``doc`` in one transaction."""
    layout = layout or {}
    parts = roots(doc)
    with doc.transaction(origin="load"):
        for node_id, node in _node_maps(graph.get("nodes"), layout.get("nodes")).items():
            parts["nodes"][node_id] = node
        sections = []
        for name in ITEM_LISTS:
            items = layout.get(name)
            if items is None:
                continue
            sections.append(name)
            for item in items:
                parts[name].append(_item_map(item))
        app = layout.get("app")
        if app is not None:
            parts["app"]["inputs"] = Array([_item_map(item) for item in app.get("inputs") or []])
            parts["app"]["outputs"] = Array([_item_map(item) for item in app.get("outputs") or []])
        definitions = graph.get("subgraphs") or {}
        sub_layouts = layout.get("subgraphs")
        for sub_id in {*definitions, *(sub_layouts or {})}:
            parts["subgraphs"][sub_id] = subgraph_map(
                definitions.get(sub_id), (sub_layouts or {}).get(sub_id)
            )
        meta = parts["meta"]
        meta["schema"] = _text(SCHEMA)
        meta["sections"] = _text(sections + (["subgraphs"] if sub_layouts is not None else []))
        if "outputs" in graph:
            meta["outputs"] = _text(graph["outputs"])
        if layout.get("viewport") is not None:
            meta["viewport"] = _text(layout["viewport"])


def doc_from_document(graph: dict[str, Any], layout: dict[str, Any] | None) -> Doc:
    """A new Y.Doc holding the JSON document."""
    doc: Doc[Any] = Doc()
    fill_doc(doc, graph, layout)
    return doc


def document_from_doc(doc: Doc) -> tuple[dict[str, Any], dict[str, Any]]:
    """The JSON document ``(graph, layout)`` a Y.Doc holds (not validated: ``parse_document`` does that)."""
    parts = roots(doc)
    meta = parts["meta"]
    sections = set(_value(meta.get("sections", "[]")) or [])
    nodes, layout_nodes = _read_nodes(parts["nodes"])
    graph: dict[str, Any] = {"nodes": nodes}
    if "outputs" in meta:
        graph["outputs"] = _value(meta["outputs"])
    layout: dict[str, Any] = {"nodes": layout_nodes, "groups": [_item(item) for item in parts["groups"]]}
    for name in ("notes", "reroutes"):
        items = [_item(item) for item in parts[name]]
        if items or name in sections:
            layout[name] = items
    if "viewport" in meta:
        layout["viewport"] = _value(meta["viewport"])
    app = parts["app"]
    if "inputs" in app or "outputs" in app:
        layout["app"] = {
            key: [_item(item) for item in app[key]] if isinstance(app.get(key), Array) else []
            for key in ("inputs", "outputs")
        }
    definitions: dict[str, Any] = {}
    sub_layouts: dict[str, Any] = {}
    for sub_id, stored in parts["subgraphs"].items():
        definition, sub_layout = subgraph_of(stored)
        if definition is not None:
            definitions[sub_id] = definition
        if sub_layout is not None:
            sub_layouts[sub_id] = sub_layout
    if definitions:
        graph["subgraphs"] = definitions
    if sub_layouts or "subgraphs" in sections:
        layout["subgraphs"] = sub_layouts
    return graph, layout


def set_widget(doc: Doc, node_id: str, name: str, value: Any, origin: Any = None) -> None:
    """Set one input of one node (what an edit of a widget writes); used by tests and the benchmark."""
    node = roots(doc)["nodes"][node_id]
    with doc.transaction(origin=origin):
        node["inputs"][name] = _text(value)


def move_node(doc: Doc, node_id: str, x: float, y: float, origin: Any = None) -> None:
    """Move one node (its ``x`` and ``y`` keys only)."""
    node = roots(doc)["nodes"][node_id]
    with doc.transaction(origin=origin):
        node["x"] = _text(x)
        node["y"] = _text(y)
