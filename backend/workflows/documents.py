"""Workflow documents (graph + layout): validated once at the edge, hashed, and diffed.

The graph is checked for structure only (``parse_graph``): incomplete graphs may be saved; run-time validation
against the node catalog happens when a run is created. The graph is stored in the engine's own JSON form
(``Graph.to_json()``), so ComfyUI API-format graphs are translated on save.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from django.conf import settings
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from backend.accounts.exceptions import ApiError
from workers.engine.graph import Graph, GraphFormatError, Link, parse_graph
from workers.engine.registry import default_registry
from workers.engine.subgraphs import parse_subgraphs, subgraphs_to_json

Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Size = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NodeLayout(_Strict):
    x: Number
    y: Number
    width: Size | None = None
    height: Size | None = None
    collapsed: bool | None = None
    mode: Literal["bypass", "mute"] | None = None
    title: Annotated[str, Field(max_length=200)] | None = None


class GroupLayout(_Strict):
    id: Annotated[str, Field(min_length=1, max_length=100)]
    title: Annotated[str, Field(max_length=200)]
    x: Number
    y: Number
    width: Size
    height: Size
    color: Annotated[str, Field(max_length=50)] | None = None


class NoteLayout(_Strict):
    """A note on the canvas (ComfyUI's Note, or MarkdownNote when ``markdown``): text only, never run."""

    id: Annotated[str, Field(min_length=1, max_length=100)]
    x: Number
    y: Number
    width: Size | None = None
    height: Size | None = None
    text: Annotated[str, Field(max_length=20_000)]
    markdown: bool | None = None


class RerouteLayout(_Strict):
    """A waypoint (ComfyUI's Reroute) the links from ``source``'s output ``output`` to ``targets`` are drawn through.

    The links themselves stay in the graph; a reroute only changes how they are drawn and exported.
    """

    id: Annotated[str, Field(min_length=1, max_length=100)]
    x: Number
    y: Number
    source: Annotated[str, Field(min_length=1, max_length=100)]
    output: Annotated[int, Field(strict=True, ge=0)]
    targets: list[tuple[Annotated[str, Field(max_length=100)], Annotated[str, Field(max_length=200)]]]


class Viewport(_Strict):
    x: Number
    y: Number
    zoom: Annotated[float, Field(strict=True, gt=0, allow_inf_nan=False)]


class SubgraphLayout(_Strict):
    """Where the editor draws the nodes inside one subgraph definition."""

    nodes: dict[str, NodeLayout] = Field(default_factory=dict)
    groups: list[GroupLayout] = Field(default_factory=list)


AppName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
# Kept as given (an int stays an int): the form shows integer limits as integers.
AppNumber = Annotated[int, Field(strict=True)] | Annotated[float, Field(strict=True, allow_inf_nan=False)]
AppKind = Literal["text", "prompt", "number", "integer", "seed", "select", "model", "toggle", "image", "file"]


class AppInput(_Strict):
    """A widget (or an upload-fed input) of a node exposed as a named input of the workflow's app."""

    name: AppName
    node: Annotated[str, Field(min_length=1, max_length=100)]
    input: Annotated[str, Field(min_length=1, max_length=200)]
    label: Annotated[str, Field(max_length=200)] | None = None
    help: Annotated[str, Field(max_length=2000)] | None = None
    min: AppNumber | None = None
    max: AppNumber | None = None
    step: AppNumber | None = None
    default: Any = None
    kind: AppKind | None = None


class AppOutput(_Strict):
    """An output node whose results the app shows (and its run endpoint answers) under ``name``."""

    name: AppName
    node: Annotated[str, Field(min_length=1, max_length=100)]
    label: Annotated[str, Field(max_length=200)] | None = None


class AppSection(_Strict):
    """What the workflow's app exposes (docs/apps.md); versioned with the document, checked on save."""

    inputs: list[AppInput] = Field(default_factory=list, max_length=100)
    outputs: list[AppOutput] = Field(default_factory=list, max_length=100)


class Layout(_Strict):
    """Where the editor draws each node, the groups and the viewport; nothing here affects a run (the ``app``
    section says what a published app exposes: it changes the app's form, not the workflow's runs)."""

    nodes: dict[str, NodeLayout] = Field(default_factory=dict)
    groups: list[GroupLayout] = Field(default_factory=list)
    viewport: Viewport | None = None
    subgraphs: dict[str, SubgraphLayout] | None = None
    notes: list[NoteLayout] | None = None
    reroutes: list[RerouteLayout] | None = None
    app: AppSection | None = None


def canonical_json(data: Any) -> bytes:
    """The one JSON encoding used for hashing and size limits."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Document:
    """A validated workflow document, ready to store as a version."""

    graph: dict[str, Any]
    layout: dict[str, Any]
    content_hash: str
    packs: dict[str, str]


def _format_bytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB" if size >= 1024 * 1024 else f"{size} bytes"


def parse_document(graph: Any, layout: Any = None) -> Document:
    """Validate a graph and layout; raise ``ApiError`` (400, or 413 when too large) listing every problem."""
    limit = settings.FLOWYARD_MAX_DOCUMENT_BYTES
    size = len(canonical_json({"graph": graph, "layout": layout}))
    if size > limit:
        message = f"The document is {_format_bytes(size)}; the limit is {_format_bytes(limit)}."
        raise ApiError(message, [{"field": "graph", "message": message}], status_code=413)
    try:
        parsed = parse_graph(graph)
        # Subgraph definitions travel inside the graph (docs/architecture.md); their nodes have the graph shape.
        subgraphs = parse_subgraphs(graph.get("subgraphs") if isinstance(graph, dict) else None)
        inner = {sub_id: parse_graph({"nodes": sub.nodes}) for sub_id, sub in subgraphs.items()}
    except GraphFormatError as exc:
        count = len(exc.errors)
        raise ApiError(
            f"The graph has {count} problem{'s' if count != 1 else ''}: {exc}",
            [error.to_json() for error in exc.errors],
        ) from None
    try:
        checked = Layout.model_validate({} if layout is None else layout)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(["layout", *(str(part) for part in error["loc"])]), "message": error["msg"]}
            for error in exc.errors()
        ]
        raise ApiError(
            f"The layout is invalid: {errors[0]['field']}: {errors[0]['message']}", errors
        ) from None
    if checked.app is not None:
        app_problems = check_app_section(checked.app, parsed)
        if app_problems:
            raise ApiError(f"The app section is invalid: {app_problems[0]['message']}", app_problems)
    graph_json = parsed.to_json()
    packs = default_registry().packs_used(parsed)
    if subgraphs:
        for sub_id, sub in subgraphs.items():
            sub.nodes = inner[sub_id].to_json()["nodes"]
            packs.update(default_registry().packs_used(inner[sub_id]))
        graph_json["subgraphs"] = subgraphs_to_json(subgraphs)
    layout_json = checked.model_dump(mode="json", exclude_none=True)
    digest = hashlib.sha256(canonical_json({"graph": graph_json, "layout": layout_json})).hexdigest()
    return Document(graph_json, layout_json, digest, dict(sorted(packs.items())))


# Widget kinds of the node SDK (nodepacks/sdk/inputs.py) and the app input kind each one gives by default.
_KIND_OF_WIDGET = {
    "text": "text",
    "number": "number",
    "seed": "seed",
    "select": "select",
    "toggle": "toggle",
    "upload": "image",
    "color": "integer",
}


def default_app_kind(widget: dict[str, Any] | None, input_type: str = "") -> str:
    """The app input kind a widget suggests (a multiline text is a prompt, a model picker a model)."""
    if not widget:
        return "text"
    kind = str(widget.get("kind", "text"))
    if kind == "text" and widget.get("multiline"):
        return "prompt"
    if kind == "select" and str(widget.get("source") or "").startswith(("models.", "modelfiles.")):
        return "model"
    if kind == "upload":
        return "image" if widget.get("accept") == "image" else "file"
    if kind == "number" and input_type == "INT":
        return "integer"
    return _KIND_OF_WIDGET.get(kind, "text")


def check_app_section(app: AppSection, graph: Graph) -> list[dict[str, Any]]:
    """Every problem of an app section against its graph: unique names, existing nodes, exposed inputs that are
    widgets (checked against the node schema when the type is installed here; publishing checks the workspace's
    packs again), consistent limits, outputs that are output nodes. Each problem names its field."""
    problems: list[dict[str, Any]] = []
    registry = default_registry()

    def problem(field: str, message: str) -> None:
        problems.append({"field": f"layout.app.{field}", "message": message})

    seen: set[str] = set()
    targets: set[tuple[str, str]] = set()
    for index, item in enumerate(app.inputs):
        where = f"inputs.{index}"
        if item.name in seen:
            problem(f"{where}.name", f"Input name {item.name!r} is used twice.")
        seen.add(item.name)
        if (item.node, item.input) in targets:
            problem(f"{where}.input", f"Node {item.node} input {item.input!r} is exposed twice.")
        targets.add((item.node, item.input))
        if item.step is not None and item.step <= 0:
            problem(f"{where}.step", f"Input {item.name!r}: step must be above 0.")
        if item.min is not None and item.max is not None and item.min > item.max:
            problem(f"{where}.min", f"Input {item.name!r}: min {item.min} is above max {item.max}.")
        node = graph.nodes.get(item.node)
        if node is None:
            problem(f"{where}.node", f"Input {item.name!r}: the graph has no node {item.node!r}.")
            continue
        if isinstance(node.inputs.get(item.input), Link):
            problem(
                f"{where}.input",
                f"Input {item.name!r}: node {item.node} input {item.input!r} is fed by a link, not a widget.",
            )
            continue
        entry = registry.get(node.type)
        if entry is None:
            continue  # a pack this installation lacks: the workspace's packs are checked on publish
        spec = next((spec for spec in entry.schema.inputs if spec.name == item.input), None)
        if spec is None:
            problem(f"{where}.input", f"Input {item.name!r}: {node.type} has no input {item.input!r}.")
        elif spec.widget is None or not spec.accepts_constant:
            problem(
                f"{where}.input",
                f"Input {item.name!r}: {node.type}.{item.input} is a socket, not a widget or an upload.",
            )
    seen = set()
    for index, output in enumerate(app.outputs):
        where = f"outputs.{index}"
        if output.name in seen:
            problem(f"{where}.name", f"Output name {output.name!r} is used twice.")
        seen.add(output.name)
        node = graph.nodes.get(output.node)
        if node is None:
            problem(f"{where}.node", f"Output {output.name!r}: the graph has no node {output.node!r}.")
            continue
        entry = registry.get(node.type)
        if entry is not None and not entry.schema.output_node:
            problem(f"{where}.node", f"Output {output.name!r}: {node.type} is not an output node.")
    return problems


def _input_key(value: Any) -> bytes:
    return canonical_json(value.to_json() if isinstance(value, Link) else value)


def diff_graphs(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """What changed from graph ``old`` to graph ``new``: node ids added and removed, node types changed, and
    per node the names of inputs whose value or link changed (added and removed inputs count as changed)."""
    a: Graph = parse_graph(old)
    b: Graph = parse_graph(new)
    added = sorted(set(b.nodes) - set(a.nodes), key=_node_order)
    removed = sorted(set(a.nodes) - set(b.nodes), key=_node_order)
    changed: list[dict[str, Any]] = []
    type_changed: list[dict[str, Any]] = []
    for node_id in sorted(set(a.nodes) & set(b.nodes), key=_node_order):
        before, after = a.nodes[node_id], b.nodes[node_id]
        if before.type != after.type:
            type_changed.append({"node": node_id, "from": before.type, "to": after.type})
            continue
        names = sorted(
            name
            for name in set(before.inputs) | set(after.inputs)
            if name not in before.inputs
            or name not in after.inputs
            or _input_key(before.inputs[name]) != _input_key(after.inputs[name])
        )
        if names:
            changed.append({"node": node_id, "inputs": names})
    return {"added": added, "removed": removed, "changed": changed, "type_changed": type_changed}


def _node_order(node_id: str) -> tuple[int, int | str]:
    # Numeric ids ("2" before "10") the way people number them, others after, alphabetically.
    return (0, int(node_id)) if node_id.isdigit() else (1, node_id)
