"""Preparing a submitted graph: parse, apply overrides, validate against the catalog, once, at the edge."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from backend.accounts.exceptions import ApiError
from workers.engine import GraphError, GraphFormatError, NodeRegistry, parse_graph
from workers.engine.graph import Graph, Link
from workers.engine.subgraphs import flatten, has_subgraphs
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
    requires_gpu: bool = False  # a node that runs would go to a GPU (device "gpu" or "gpu-only")
    # (node id, node type, device) of each node that runs with device "gpu" or "gpu-only", in topological order
    gpu_nodes: tuple[tuple[str, str, str], ...] = ()


def prepare_graph(
    data: Graph | Any,
    registry: NodeRegistry,
    *,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    outputs: list[str] | None = None,
    option_sources: OptionSources | None = None,
    origins: Mapping[tuple[str, str], tuple[str, str]] | None = None,
) -> PreparedGraph:
    """Return the graph ready to run, or raise ``GraphRejected`` listing every problem.

    ``overrides`` (``{node id: {input: value}}``) replace or add constant inputs before validation. The stored
    graph holds the constants as validation coerced them, so the worker runs it without validating again.
    ``data`` is the graph's JSON, or a ``Graph`` parsed from it (changed in place). ``origins`` comes from
    ``flatten_subgraphs``: a missing input it lists is reported on the subgraph instance that leaves it open.
    """
    if not isinstance(data, Graph):
        check_graph_size(data)
    graph = data if isinstance(data, Graph) else _parse(data)
    _check_node_count(len(graph.nodes))
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
        raise GraphRejected([_on_instance(error, origins or {}) for error in resolved.errors])
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
    gpu_nodes = tuple(
        (node_id, node_type, device)
        for node_id, node_type in nodes
        if (device := resolved.nodes[node_id].entry.schema.device) != "cpu"
    )
    return PreparedGraph(
        graph=json.loads(json.dumps(graph_json)),
        outputs=requested,
        nodes=nodes,
        requires_gpu=bool(gpu_nodes),
        gpu_nodes=gpu_nodes,
    )


def max_graph_nodes() -> int:
    """The most nodes a submitted graph may have, subgraph definitions included (``FLOWYARD_MAX_GRAPH_NODES``)."""
    return int(getattr(settings, "FLOWYARD_MAX_GRAPH_NODES", 20_000))


def _check_node_count(count: int, where: str = "graph.nodes") -> None:
    limit = max_graph_nodes()
    if count > limit:
        message = f"{count:,} nodes, more than the limit of {limit:,} (FLOWYARD_MAX_GRAPH_NODES)"
        raise ApiError(f"The graph is too large: {message}.", [{"field": where, "message": message}], 413)


def check_graph_size(data: Any) -> None:
    """Raise ``ApiError`` (413) naming the limit when graph JSON has more nodes than a graph may have: checked
    before parsing or flattening, whose cost grows with the node count."""
    if not isinstance(data, Mapping):
        return
    nodes = data.get("nodes")
    count = len(nodes) if isinstance(nodes, Mapping | list) else 0
    subgraphs = data.get("subgraphs")
    if isinstance(subgraphs, Mapping):
        for definition in subgraphs.values():
            inner = definition.get("nodes") if isinstance(definition, Mapping) else None
            count += len(inner) if isinstance(inner, Mapping | list) else 0
    _check_node_count(count)


def flatten_subgraphs(data: Any) -> tuple[Any, dict[tuple[str, str], tuple[str, str]]]:
    """Graph JSON with its subgraph instances replaced by their inner nodes (path ids such as ``"12:34"``),
    and the ``origins`` for ``prepare_graph``; raise ``GraphRejected`` naming the instance at fault, or
    ``ApiError`` (413) for a graph over ``FLOWYARD_MAX_GRAPH_NODES``."""
    check_graph_size(data)
    if not has_subgraphs(data):
        return data, {}
    origins: dict[tuple[str, str], tuple[str, str]] = {}
    try:
        return flatten(data, origins=origins), origins
    except GraphFormatError as exc:
        raise GraphRejected(exc.errors) from None


def _on_instance(error: GraphError, origins: Mapping[tuple[str, str], tuple[str, str]]) -> GraphError:
    origin = origins.get((error.node or "", error.input or "")) if error.code == "missing_input" else None
    if origin is None:
        return error
    instance, name = origin
    message = f"{name!r} of this subgraph is not connected (node {error.node} needs it for {error.input!r})"
    return GraphError("missing_input", message, instance, name)


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
