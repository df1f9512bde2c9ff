"""Subgraphs: reusable graphs used as one node, flattened into a plain graph before a run.

A graph may carry definitions beside its nodes; an instance node has the type ``subgraph:<id>``::

    {"nodes": {"12": {"type": "subgraph:up", "inputs": {"image": ["1", 0], "scale": 2}}},
     "subgraphs": {"up": {
         "name": "Upscale",
         "inputs": [{"name": "image", "type": "IMAGE", "targets": [["34", "image"]]},
                    {"name": "scale", "type": "FLOAT", "targets": [["34", "scale_by"]]}],
         "outputs": [{"name": "IMAGE", "type": "IMAGE", "source": ["34", 0]}],
         "nodes": {"34": {"type": "ImageScaleBy", "inputs": {"scale_by": 1.5}}}}}}

An input's ``targets`` are the inner ``[node, input]`` it feeds; an output's ``source`` is the inner link that
feeds it (``{"input": name}`` passes a subgraph input straight through; ``null``: not connected). Inner nodes
keep their own widget values: an instance input left unconnected falls back to them. Definitions may use other
definitions (nesting), never themselves.

``flatten`` gives the plain graph the engine runs. Inner nodes get path ids as ComfyUI's ``"12:34"`` (node 34
inside instance 12; deeper nesting adds more parts), so errors and run events on them still name something a
person can find: the instance is the id's first part.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from workers.engine.graph import GraphError, GraphFormatError, _looks_like_link

INSTANCE_PREFIX = "subgraph:"
PATH_SEPARATOR = ":"


@dataclass(frozen=True, slots=True)
class SubgraphInput:
    """One input of a subgraph and the inner ``(node, input)`` pairs it feeds."""

    name: str
    type: str
    targets: tuple[tuple[str, str], ...] = ()
    label: str | None = None  # what the editor shows, when not the name


@dataclass(frozen=True, slots=True)
class SubgraphOutput:
    """One output of a subgraph: an inner link ``(node, index)``, a passed-through input name, or nothing."""

    name: str
    type: str
    source: tuple[str, int] | str | None = None


@dataclass(slots=True)
class Subgraph:
    """A parsed definition; ``nodes`` is graph JSON as in a graph's ``nodes``."""

    id: str
    name: str
    inputs: list[SubgraphInput] = field(default_factory=list)
    outputs: list[SubgraphOutput] = field(default_factory=list)
    nodes: dict[str, Any] = field(default_factory=dict)

    def input(self, name: str) -> SubgraphInput | None:
        """The input called ``name``, if any."""
        return next((item for item in self.inputs if item.name == name), None)


def subgraph_id(node_type: str) -> str | None:
    """The definition id an instance type names (``subgraph:<id>``), else None."""
    return node_type[len(INSTANCE_PREFIX) :] if node_type.startswith(INSTANCE_PREFIX) else None


def instance_of(node_id: str) -> str:
    """The top-level node a (path) id belongs to: ``"12"`` for ``"12:34:5"``."""
    return node_id.split(PATH_SEPARATOR, 1)[0]


def has_subgraphs(graph: Any) -> bool:
    """True when graph JSON carries definitions or instance nodes."""
    if not isinstance(graph, Mapping):
        return False
    if graph.get("subgraphs"):
        return True
    nodes = graph.get("nodes")
    return isinstance(nodes, Mapping) and any(
        isinstance(node, Mapping) and isinstance(node.get("type"), str) and subgraph_id(node["type"])
        for node in nodes.values()
    )


def parse_subgraphs(data: Any) -> dict[str, Subgraph]:
    """Parse the ``subgraphs`` mapping; raise ``GraphFormatError`` listing every structural problem."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise GraphFormatError(
            [GraphError("invalid_subgraph", "'subgraphs' must be an object of id to subgraph")]
        )
    errors: list[GraphError] = []
    parsed: dict[str, Subgraph] = {}
    for raw_id, raw in data.items():
        sub_id = str(raw_id)
        where = f"subgraph {sub_id!r}"
        if not isinstance(raw, Mapping) or not isinstance(raw.get("nodes", {}), Mapping):
            errors.append(GraphError("invalid_subgraph", f"{where} must be an object with 'nodes'"))
            continue
        definition = Subgraph(
            id=sub_id, name=str(raw.get("name") or sub_id), nodes=dict(raw.get("nodes") or {})
        )
        for item in raw.get("inputs") or []:
            if not isinstance(item, Mapping) or not isinstance(item.get("name"), str) or not item["name"]:
                errors.append(GraphError("invalid_subgraph", f"{where}: an input needs a 'name'"))
                continue
            targets = []
            for target in item.get("targets") or []:
                if isinstance(target, list | tuple) and len(target) == 2:
                    targets.append((str(target[0]), str(target[1])))
                else:
                    errors.append(
                        GraphError("invalid_subgraph", f"{where}: input {item['name']!r} has a bad target")
                    )
            label = item["label"] if isinstance(item.get("label"), str) and item["label"] else None
            kind = str(item.get("type") or "*")
            definition.inputs.append(SubgraphInput(item["name"], kind, tuple(targets), label))
        for item in raw.get("outputs") or []:
            if not isinstance(item, Mapping) or not isinstance(item.get("name"), str) or not item["name"]:
                errors.append(GraphError("invalid_subgraph", f"{where}: an output needs a 'name'"))
                continue
            source: tuple[str, int] | str | None = None
            raw_source = item.get("source")
            if isinstance(raw_source, list | tuple) and _looks_like_link(raw_source):
                source = (str(raw_source[0]), int(raw_source[1]))
            elif isinstance(raw_source, Mapping) and isinstance(raw_source.get("input"), str):
                source = raw_source["input"]
            elif raw_source is not None:
                errors.append(
                    GraphError("invalid_subgraph", f"{where}: output {item['name']!r} has a bad source")
                )
            definition.outputs.append(SubgraphOutput(item["name"], str(item.get("type") or "*"), source))
        parsed[sub_id] = definition
    if errors:
        raise GraphFormatError(errors)
    return parsed


def subgraphs_to_json(subgraphs: Mapping[str, Subgraph]) -> dict[str, Any]:
    """Definitions as JSON (the inverse of ``parse_subgraphs``)."""
    data: dict[str, Any] = {}
    for sub_id, definition in subgraphs.items():
        outputs = []
        for output in definition.outputs:
            source: Any = output.source
            if isinstance(source, tuple):
                source = list(source)
            elif isinstance(source, str):
                source = {"input": source}
            outputs.append({"name": output.name, "type": output.type, "source": source})
        data[sub_id] = {
            "name": definition.name,
            "inputs": [
                {"name": item.name, "type": item.type, "targets": [list(target) for target in item.targets]}
                | ({"label": item.label} if item.label else {})
                for item in definition.inputs
            ],
            "outputs": outputs,
            "nodes": definition.nodes,
        }
    return data


_MISSING = object()


class _Flattener:
    def __init__(
        self, subgraphs: dict[str, Subgraph], origins: dict[tuple[str, str], tuple[str, str]] | None
    ):
        self.subgraphs = subgraphs
        self.errors: list[GraphError] = []
        self.nodes: dict[str, Any] = {}
        self.origins = origins if origins is not None else {}
        # (level prefix, instance id) -> resolved outputs; None while being expanded (a cycle guard)
        self.expanded: dict[tuple[str, str], list[Any] | None] = {}

    def level(self, context: _Level) -> None:
        """Emit every node of one graph level (the top, or one instance's inside) into ``self.nodes``."""
        nodes, prefix, boundary, instance, bound = (
            context.nodes, context.prefix, context.boundary, context.instance, context.bound
        )  # fmt: skip
        for local_id, raw in nodes.items():
            local_id = str(local_id)
            if not isinstance(raw, Mapping):
                continue
            node_type = raw.get("type", raw.get("class_type"))
            inputs = raw.get("inputs") or {}
            if not isinstance(node_type, str) or not isinstance(inputs, Mapping):
                self.nodes[prefix + local_id] = dict(raw)  # parse_graph reports the shape
                continue
            if subgraph_id(node_type) is not None:
                self.expand(context, local_id)
                continue
            flat_inputs: dict[str, Any] = {}
            for name, value in inputs.items():
                name = str(name)
                item = bound.get((local_id, name))
                if item is not None and item.name in boundary:
                    value = boundary[item.name]
                    if value is not _MISSING:
                        flat_inputs[name] = value
                    continue
                if _looks_like_link(value):
                    resolved = self.resolve(context, value)
                    if resolved is not _MISSING:
                        flat_inputs[name] = resolved
                else:
                    flat_inputs[name] = value
            for (target_node, target_input), item in bound.items():
                if target_node != local_id or target_input in flat_inputs or instance is None:
                    continue
                value = boundary.get(item.name, _MISSING)
                if value is not _MISSING:
                    flat_inputs[target_input] = value
                else:
                    # Nothing reaches it: if the node needs it, validation's error is put on the instance.
                    self.origins[(prefix + local_id, target_input)] = (instance, item.name)
            self.nodes[prefix + local_id] = {"type": node_type, "inputs": flat_inputs}

    def resolve(self, context: _Level, link: Any) -> Any:
        """A link inside a level as a value of the flat graph: a link, a constant passed through, or _MISSING."""
        nodes, prefix = context.nodes, context.prefix
        source, index = str(link[0]), int(link[1])
        raw = nodes.get(source)
        node_type = raw.get("type") if isinstance(raw, Mapping) else None
        if not isinstance(node_type, str) or subgraph_id(node_type) is None:
            return [prefix + source, index]
        outputs = self.expand(context, source)
        if outputs is None or index >= len(outputs) or index < 0:
            if outputs is not None:
                self.errors.append(
                    GraphError("bad_output_index", f"subgraph has no output {index}", node=prefix + source)
                )
            return _MISSING
        return outputs[index]

    def expand(self, context: _Level, local_id: str) -> list[Any] | None:
        """Emit the inside of instance ``local_id`` once; return its outputs as flat values (None on error)."""
        nodes, prefix, stack = context.nodes, context.prefix, context.stack
        key = (prefix, local_id)
        if key in self.expanded:
            return self.expanded[key]
        self.expanded[key] = None
        flat_id = prefix + local_id
        raw = nodes[local_id]
        sub_id = subgraph_id(raw["type"]) or ""
        definition = self.subgraphs.get(sub_id)
        if definition is None:
            self.errors.append(
                GraphError("unknown_subgraph", f"no subgraph {sub_id!r} is defined", node=flat_id)
            )
            return None
        if sub_id in stack:
            self.errors.append(
                GraphError("subgraph_cycle", f"subgraph {definition.name!r} contains itself", node=flat_id)
            )
            return None
        boundary: dict[str, Any] = {}
        for name, value in (raw.get("inputs") or {}).items():
            name = str(name)
            if definition.input(name) is None:
                self.errors.append(
                    GraphError(
                        "unknown_input", f"subgraph {definition.name!r} has no input {name!r}", flat_id, name
                    )
                )
                continue
            item = context.bound.get((local_id, name))
            if item is not None and item.name in context.boundary:
                continue  # fed from the enclosing instance, below
            boundary[name] = self.resolve(context, value) if _looks_like_link(value) else value
        for (target_node, target_input), item in context.bound.items():
            if (
                target_node == local_id
                and item.name in context.boundary
                and definition.input(target_input) is not None
            ):
                boundary[target_input] = context.boundary[item.name]
        inner = _Level(
            definition.nodes, flat_id + PATH_SEPARATOR, (*stack, sub_id), boundary, definition, flat_id
        )
        self.level(inner)
        outputs: list[Any] = []
        for output in definition.outputs:
            if isinstance(output.source, str):
                value = boundary.get(output.source, _MISSING)
            elif output.source is not None:
                value = self.resolve(inner, output.source)
            else:
                value = _MISSING
            if value is _MISSING:
                value = _Unconnected(flat_id, output.name)
            outputs.append(value)
        self.expanded[key] = outputs
        return outputs


@dataclass(slots=True)
class _Level:
    """One graph level: the top, or the inside of one instance (``boundary``: its inputs as flat values)."""

    nodes: Mapping[str, Any]
    prefix: str
    stack: tuple[str, ...]
    boundary: dict[str, Any]
    definition: Subgraph | None
    instance: str | None
    bound: dict[tuple[str, str], SubgraphInput] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.definition is not None:
            for item in self.definition.inputs:
                for target in item.targets:
                    self.bound[target] = item


@dataclass(frozen=True, slots=True)
class _Unconnected:
    node: str
    output: str


def flatten(
    graph: Mapping[str, Any],
    subgraphs: Any = None,
    *,
    origins: dict[tuple[str, str], tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """Graph JSON with every subgraph instance replaced by its inner nodes (path ids); raise ``GraphFormatError``.

    ``subgraphs`` defaults to the graph's own ``subgraphs``. ``origins``, when given, is filled with
    ``{(flat node, input): (instance id, subgraph input or output name)}`` for inputs left empty because an
    instance input nothing reaches feeds them, or an instance output not connected inside: a missing-input
    error there can be reported on the instance. ``outputs`` naming an instance are replaced by its inner
    nodes.
    """
    if not isinstance(graph, Mapping) or not isinstance(graph.get("nodes"), Mapping):
        return dict(graph) if isinstance(graph, Mapping) else graph
    definitions = parse_subgraphs(graph.get("subgraphs") if subgraphs is None else subgraphs)
    flattener = _Flattener(definitions, origins)
    flattener.level(_Level(graph["nodes"], "", (), {}, None, None))
    nodes: dict[str, Any] = {}
    for node_id, node in flattener.nodes.items():
        inputs = node.get("inputs")
        if isinstance(inputs, Mapping):
            kept: dict[str, Any] = {}
            for name, value in inputs.items():
                if isinstance(value, _Unconnected):
                    # Left out: validation reports it if the node is needed, and on the instance (origins).
                    flattener.origins[(node_id, str(name))] = (value.node, value.output)
                else:
                    kept[name] = value
            node = {**node, "inputs": kept}
        nodes[node_id] = node
    if flattener.errors:
        raise GraphFormatError(_unique(flattener.errors))
    flat: dict[str, Any] = {"nodes": nodes}
    if graph.get("outputs") is not None:
        requested: list[Any] = []
        for item in graph["outputs"]:
            prefix = f"{item}{PATH_SEPARATOR}"
            inner = [node_id for node_id in nodes if node_id.startswith(prefix)]
            requested.extend(inner if str(item) not in nodes and inner else [item])
        flat["outputs"] = requested
    return flat


def _unique(errors: list[GraphError]) -> list[GraphError]:
    seen: dict[tuple[Any, ...], GraphError] = {}
    for error in errors:
        seen.setdefault((error.code, error.node, error.input, error.message), error)
    return list(seen.values())
