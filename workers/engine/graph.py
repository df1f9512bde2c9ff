"""The graph model: nodes with constant or linked inputs, and the outputs a run asks for.

JSON format (close to ComfyUI's API format, so prompts translate one to one)::

    {"nodes": {"1": {"type": "EmptyImage", "inputs": {"width": 64, "height": 64}},
               "2": {"type": "ImageInvert", "inputs": {"image": ["1", 0]}}},
     "outputs": ["2"]}

An input value ``[node_id, output_index]`` (a string and an integer) is a link; anything else is a constant. A
constant that would look like a link is written ``{"__value__": [...]}``. ``outputs`` is optional: by default a
run computes every output node.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Link:
    """A reference to output ``output`` of node ``node``."""

    node: str
    output: int

    def to_json(self) -> list[Any]:
        """The link as written in graph JSON."""
        return [self.node, self.output]


@dataclass(slots=True)
class GraphNode:
    """One node of a graph: its id, type and inputs (constants or links)."""

    id: str
    type: str
    inputs: dict[str, Any] = field(default_factory=dict)

    def links(self) -> list[tuple[str, Link]]:
        """Return (input name, link) for every linked input."""
        return [(name, value) for name, value in self.inputs.items() if isinstance(value, Link)]

    def constants(self) -> dict[str, Any]:
        """Return the constant inputs."""
        return {name: value for name, value in self.inputs.items() if not isinstance(value, Link)}


@dataclass(slots=True)
class Graph:
    """A whole graph; ``outputs`` lists the node ids a run must compute (None: every output node)."""

    nodes: dict[str, GraphNode]
    outputs: list[str] | None = None

    def to_json(self) -> dict[str, Any]:
        """The graph as JSON (the inverse of ``parse_graph``)."""
        nodes: dict[str, Any] = {}
        for node in self.nodes.values():
            inputs: dict[str, Any] = {}
            for name, value in node.inputs.items():
                if type(value) in _SCALARS:
                    inputs[name] = value
                elif isinstance(value, Link):
                    inputs[name] = [value.node, value.output]
                elif _looks_like_link(value):
                    inputs[name] = {"__value__": value}
                else:
                    inputs[name] = value
            nodes[node.id] = {"type": node.type, "inputs": inputs}
        data: dict[str, Any] = {"nodes": nodes}
        if self.outputs is not None:
            data["outputs"] = list(self.outputs)
        return data


@dataclass(frozen=True, slots=True)
class GraphError:
    """One problem with a graph, tied to a node and input where it has one."""

    code: str
    message: str
    node: str | None = None
    input: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The error as served to clients."""
        return {"code": self.code, "message": self.message, "node": self.node, "input": self.input}

    def __str__(self) -> str:
        where = ".".join(part for part in (self.node and f"node {self.node}", self.input) if part)
        return f"{where}: {self.message}" if where else self.message


class GraphFormatError(ValueError):
    """Graph JSON that does not have the graph shape; ``errors`` lists every problem found."""

    def __init__(self, errors: list[GraphError]) -> None:
        super().__init__("; ".join(str(error) for error in errors))
        self.errors = errors


_NO_INPUTS: dict[str, Any] = {}
_SCALARS = frozenset({str, int, float, bool, type(None)})  # never a link nor a wrapped value


def _looks_like_link(value: Any) -> bool:
    return (
        isinstance(value, list | tuple)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], int)
        and not isinstance(value[1], bool)
    )


def parse_graph(data: Any) -> Graph:
    """Parse graph JSON into a ``Graph``; raise ``GraphFormatError`` listing every structural problem.

    Only the shape is checked here; ``validate_graph`` checks types, values and links against the catalog.
    Also accepts ComfyUI's API format (a mapping of node id to ``{"class_type", "inputs"}``).
    """
    errors: list[GraphError] = []
    if not isinstance(data, Mapping):
        raise GraphFormatError([GraphError("invalid_graph", "a graph must be a JSON object")])
    if "nodes" in data:
        raw_nodes = data["nodes"]
        raw_outputs = data.get("outputs")
    else:  # ComfyUI API format: the whole object is the node mapping
        raw_nodes = data
        raw_outputs = None
    if not isinstance(raw_nodes, Mapping):
        raise GraphFormatError([GraphError("invalid_graph", "'nodes' must be an object of node id to node")])
    nodes: dict[str, GraphNode] = {}
    # Exact-type checks first (what json.loads gives): an ABC isinstance per value costs more than the rest of
    # the loop, and a 20,000-node graph has 100,000 values.
    for raw_id, raw in raw_nodes.items():
        node_id = raw_id if type(raw_id) is str else str(raw_id)
        if type(raw) is not dict and not isinstance(raw, Mapping):
            errors.append(GraphError("invalid_node", "a node must be an object", node=node_id))
            continue
        node_type = raw["type"] if "type" in raw else raw.get("class_type")
        if type(node_type) is not str or not node_type:
            errors.append(GraphError("invalid_node", "node has no 'type'", node=node_id))
            continue
        raw_inputs = raw.get("inputs", _NO_INPUTS)
        if type(raw_inputs) is not dict and not isinstance(raw_inputs, Mapping):
            errors.append(GraphError("invalid_node", "'inputs' must be an object", node=node_id))
            continue
        inputs: dict[str, Any] = {}
        for name, value in raw_inputs.items():
            kind = type(value)
            if kind in _SCALARS:
                pass
            elif kind is list and len(value) == 2 and type(value[0]) is str and type(value[1]) is int:
                value = Link(value[0], value[1])
            elif _looks_like_link(value):
                value = Link(str(value[0]), int(value[1]))
            elif isinstance(value, Mapping) and set(value) == {"__value__"}:
                value = value["__value__"]
            inputs[name if type(name) is str else str(name)] = value
        nodes[node_id] = GraphNode(node_id, node_type, inputs)
    outputs: list[str] | None = None
    if raw_outputs is not None:
        if not isinstance(raw_outputs, list) or not all(isinstance(item, str | int) for item in raw_outputs):
            errors.append(GraphError("invalid_graph", "'outputs' must be a list of node ids"))
        else:
            outputs = [str(item) for item in raw_outputs]
    if errors:
        raise GraphFormatError(errors)
    return Graph(nodes=nodes, outputs=outputs)
