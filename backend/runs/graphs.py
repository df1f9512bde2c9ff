"""Preparing a submitted graph: parse, apply overrides, validate against the catalog, once, at the edge."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from backend.accounts.exceptions import ApiError
from workers.engine import GraphError, GraphFormatError, NodeRegistry, parse_graph
from workers.engine.graph import Graph, Link
from workers.engine.validation import OptionSources, resolve_graph


class GraphRejected(ApiError):
    """A graph that cannot run: answers 400 with every problem, each naming its node and input."""

    def __init__(self, errors: list[GraphError]) -> None:
        count = len(errors)
        detail = f"The graph cannot run: {count} problem{'s' if count != 1 else ''} found."
        if count == 1:
            detail = f"The graph cannot run: {errors[0]}"
        super().__init__(detail, [error.to_json() for error in errors])
        self.graph_errors = errors


@dataclass(frozen=True)
class PreparedGraph:
    """A validated graph: the JSON to store and run, the node ids asked for, and the nodes the run needs."""

    graph: dict[str, Any]
    outputs: list[str] | None
    nodes: list[tuple[str, str]]  # (node id, node type) in topological order
    requires_gpu: bool = False  # a node that runs needs a GPU


def prepare_graph(
    data: Graph | Any,
    registry: NodeRegistry,
    *,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    outputs: list[str] | None = None,
    option_sources: OptionSources | None = None,
) -> PreparedGraph:
    """Return the graph ready to run, or raise ``GraphRejected`` listing every problem.

    ``overrides`` (``{node id: {input: value}}``) replace or add constant inputs before validation. The stored
    graph holds the constants as validation coerced them, so the worker runs it without validating again.
    ``data`` is the graph's JSON, or a ``Graph`` parsed from it (changed in place).
    """
    graph = data if isinstance(data, Graph) else _parse(data)
    if overrides:
        # Applied to the graph's JSON so that an override is read exactly as the same value in the graph.
        graph_json = graph.to_json()
        errors = []
        for node_id, inputs in overrides.items():
            node = graph_json["nodes"].get(str(node_id))
            if node is None:
                message = f"override for node {node_id!r}: the graph has no such node"
                errors.append(GraphError("unknown_node", message, node=str(node_id)))
                continue
            node["inputs"].update({str(name): value for name, value in inputs.items()})
        if errors:
            raise GraphRejected(errors)
        graph = _parse(graph_json)
    resolved = resolve_graph(graph, registry, outputs=outputs, option_sources=option_sources)
    if resolved.errors:
        raise GraphRejected(resolved.errors)
    for node_id, node in resolved.nodes.items():
        inputs = graph.nodes[node_id].inputs
        for name, value in node.constants.items():
            if name in inputs and not isinstance(inputs[name], Link) and _is_json(value):
                inputs[name] = value
    graph_json = graph.to_json()
    if outputs is not None:
        graph_json["outputs"] = list(resolved.targets)
    nodes = [(node_id, graph.nodes[node_id].type) for node_id in resolved.order]
    requested = list(resolved.targets) if outputs is not None else None
    # A copy sharing nothing with ``graph`` (its constants are JSON): a JSON round trip is ~5x cheaper than
    # ``copy.deepcopy`` for a graph of hundreds of nodes.
    requires_gpu = any(node.entry.schema.requires_gpu for node in resolved.nodes.values())
    return PreparedGraph(
        graph=json.loads(json.dumps(graph_json)), outputs=requested, nodes=nodes, requires_gpu=requires_gpu
    )


def _parse(data: Any) -> Graph:
    try:
        return parse_graph(data)
    except GraphFormatError as exc:
        raise GraphRejected(exc.errors) from None


def _is_json(value: Any) -> bool:
    if value is None or type(value) in (str, int, bool):  # most constants: no round trip needed
        return True
    try:
        return json.loads(json.dumps(value)) == value
    except (TypeError, ValueError):
        return False
