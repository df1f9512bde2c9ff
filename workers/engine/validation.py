"""Validation: check a graph against the node catalog and resolve it into what the engine runs.

Every problem is reported at once, each as a ``GraphError`` naming the node and input. Only the nodes the
requested outputs need are checked (a half-built branch elsewhere in the editor does not block a run), except
unknown node types when the outputs are the default: any node might have been an output node.

Error codes: ``unknown_node_type``, ``missing_input``, ``unknown_input``, ``missing_link_node``,
``bad_output_index``, ``type_mismatch``, ``invalid_value``, ``constant_not_allowed``, ``link_not_allowed``,
``unknown_output_node``, ``no_outputs``, ``cycle``.

All walks are iterative and linear in the size of the graph, so graphs of tens of thousands of nodes validate
without recursion limits.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from nodepacks.sdk import InputSpec
from nodepacks.sdk.types import is_compatible
from workers.engine.graph import Graph, GraphError, Link
from workers.engine.node_info import NodeInfo, node_info
from workers.engine.registry import NodeEntry, NodeRegistry

OptionSources = Callable[[str], Collection[str] | None]
"""Given a select widget's ``source`` (e.g. ``uploads.image``), the values allowed now, or None: can't tell."""


@dataclass(slots=True)
class ResolvedNode:
    """A node ready to run: constants coerced with defaults filled in, links as (input, node, output index)."""

    id: str
    entry: NodeEntry
    info: NodeInfo
    constants: dict[str, Any]
    links: tuple[tuple[str, str, int], ...]
    upstream: tuple[str, ...]  # the distinct nodes the links read from


@dataclass(slots=True)
class ResolvedGraph:
    """The outcome of validation: errors, or the nodes the targets need in topological order."""

    errors: list[GraphError]
    targets: list[str]
    order: list[str] = field(default_factory=list)
    nodes: dict[str, ResolvedNode] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the graph has no errors."""
        return not self.errors


def validate_graph(
    graph: Graph,
    registry: NodeRegistry,
    *,
    outputs: list[str] | None = None,
    option_sources: OptionSources | None = None,
) -> list[GraphError]:
    """Return every problem that stops ``graph`` from running (empty when it is valid)."""
    return resolve_graph(graph, registry, outputs=outputs, option_sources=option_sources).errors


def resolve_graph(
    graph: Graph,
    registry: NodeRegistry,
    *,
    outputs: list[str] | None = None,
    option_sources: OptionSources | None = None,
    check_values: bool = True,
) -> ResolvedGraph:
    """Validate ``graph`` and resolve the nodes its targets need.

    ``check_values=False`` trusts a graph validated before (e.g. at the API edge): constants are used as given
    and types, values and option sources are not checked; structure (node types, links, cycles) still is.
    """
    errors: list[GraphError] = []
    targets = _targets(graph, registry, outputs, errors)
    needed = _upstream_closure(graph, targets)
    nodes: dict[str, ResolvedNode] = {}
    allowed_options: dict[str, Collection[str] | None] = {}

    def allowed(source: str) -> Collection[str] | None:
        if source not in allowed_options:
            allowed_options[source] = option_sources(source) if option_sources else None
        return allowed_options[source]

    for node_id in needed:
        node = graph.nodes[node_id]
        entry = registry.get(node.type)
        if entry is None:
            if outputs is not None or graph.outputs is not None:  # else already reported by _targets
                errors.append(_unknown_type(node_id, node.type))
            continue
        resolved = _resolve_node(graph, registry, node_id, node.inputs, entry, errors, allowed, check_values)
        if resolved is not None:
            nodes[node_id] = resolved
    order = _topological_order(graph, needed, errors)
    return ResolvedGraph(errors=errors, targets=targets, order=order, nodes=nodes)


def _unknown_type(node_id: str, node_type: str) -> GraphError:
    return GraphError("unknown_node_type", f"unknown node type {node_type!r}", node=node_id)


def _targets(
    graph: Graph, registry: NodeRegistry, outputs: list[str] | None, errors: list[GraphError]
) -> list[str]:
    requested = outputs if outputs is not None else graph.outputs
    if requested is None:
        targets = []
        for node in graph.nodes.values():
            entry = registry.get(node.type)
            if entry is None:
                errors.append(_unknown_type(node.id, node.type))
            elif entry.schema.output_node:
                targets.append(node.id)
    else:
        targets = []
        for node_id in dict.fromkeys(requested):
            if node_id in graph.nodes:
                targets.append(node_id)
            else:
                message = f"requested output node {node_id!r} does not exist"
                errors.append(GraphError("unknown_output_node", message, node=node_id))
    if not targets and not errors:
        errors.append(GraphError("no_outputs", "nothing to run: the graph has no output nodes"))
    return targets


def _upstream_closure(graph: Graph, targets: list[str]) -> list[str]:
    """Return the targets and every node they read from (links to missing nodes are left out)."""
    seen = dict.fromkeys(targets)
    stack = list(targets)
    nodes = graph.nodes
    while stack:
        for value in nodes[stack.pop()].inputs.values():
            if isinstance(value, Link) and value.node not in seen and value.node in nodes:
                seen[value.node] = None
                stack.append(value.node)
    return list(seen)


def _resolve_node(
    graph: Graph,
    registry: NodeRegistry,
    node_id: str,
    inputs: dict[str, Any],
    entry: NodeEntry,
    errors: list[GraphError],
    allowed: Callable[[str], Collection[str] | None],
    check_values: bool,
) -> ResolvedNode | None:
    info = node_info(entry.node_cls)
    specs = info.inputs
    constants: dict[str, Any] = {}
    links: list[tuple[str, str, int]] = []
    error_count = len(errors)
    for name, value in inputs.items():
        spec = specs.get(name)
        if spec is None:
            errors.append(
                GraphError("unknown_input", f"{entry.schema.id} has no input {name!r}", node_id, name)
            )
        elif isinstance(value, Link):
            if _check_link(graph, registry, node_id, spec, value, errors, check_values):
                links.append((name, value.node, value.output))
        elif check_values:
            constants[name] = _check_constant(node_id, info, spec, value, errors, allowed)
        else:
            constants[name] = value
    for name in info.required:
        if name not in inputs:
            errors.append(GraphError("missing_input", f"required input {name!r} is missing", node_id, name))
    for name, default in info.defaults.items():
        # Filled in so that leaving an input out and setting it to its default share a cache key.
        if name not in inputs:
            constants[name] = default
    if len(errors) > error_count:
        return None
    links.sort()
    upstream = tuple(dict.fromkeys(link[1] for link in links))
    return ResolvedNode(node_id, entry, info, constants, tuple(links), upstream)


def _check_link(
    graph: Graph,
    registry: NodeRegistry,
    node_id: str,
    spec: InputSpec,
    link: Link,
    errors: list[GraphError],
    check_values: bool,
) -> bool:
    name = spec.name
    if not spec.accepts_link:
        errors.append(
            GraphError("link_not_allowed", f"{name!r} is a widget and takes no link", node_id, name)
        )
        return False
    upstream = graph.nodes.get(link.node)
    if upstream is None:
        errors.append(
            GraphError("missing_link_node", f"linked node {link.node!r} does not exist", node_id, name)
        )
        return False
    upstream_entry = registry.get(upstream.type)
    if upstream_entry is None:  # reported on the upstream node itself
        return True
    output_types = node_info(upstream_entry.node_cls).output_types
    if not 0 <= link.output < len(output_types):
        message = (
            f"node {link.node} ({upstream.type}) has no output {link.output} (it has {len(output_types)})"
        )
        errors.append(GraphError("bad_output_index", message, node_id, name))
        return False
    output_type = output_types[link.output]
    if check_values and not is_compatible(output_type, spec.type):
        message = f"expects {spec.type}, but output {link.output} of node {link.node} is {output_type}"
        errors.append(GraphError("type_mismatch", message, node_id, name))
        return False
    return True


def _check_constant(
    node_id: str,
    info: NodeInfo,
    spec: InputSpec,
    value: Any,
    errors: list[GraphError],
    allowed: Callable[[str], Collection[str] | None],
) -> Any:
    name = spec.name
    if not spec.accepts_constant:
        message = f"{name!r} takes a link from an output of type {spec.type}, not a constant"
        errors.append(GraphError("constant_not_allowed", message, node_id, name))
        return None
    coerced, reason = info.check_constant(spec, value)
    if reason is not None:
        errors.append(GraphError("invalid_value", reason, node_id, name))
        return None
    source = (spec.widget or {}).get("source")
    if source and coerced is not None:
        options = allowed(source)
        if options is not None and coerced not in options:
            errors.append(GraphError("invalid_value", _unavailable(coerced, source), node_id, name))
    return coerced


def _unavailable(value: Any, source: str) -> str:
    if source.startswith("uploads."):
        return f"{value!r} is not an uploaded file in this workspace"
    if source.startswith("modelfiles."):
        kind = source.removeprefix("modelfiles.")
        if not value:
            return f"no model file chosen from the {kind} folder"
        return f"{value!r} is not in the {kind} model folder of any live worker (models/{kind}/)"
    return f"{value!r} is not available ({source})"


def _topological_order(graph: Graph, needed: list[str], errors: list[GraphError]) -> list[str]:
    """Return ``needed`` upstream-first (Kahn's algorithm); report each cycle, naming its nodes in flow order."""
    nodes = graph.nodes
    in_needed = set(needed)
    indegree = dict.fromkeys(needed, 0)
    consumers: dict[str, list[str]] = {node_id: [] for node_id in needed}
    for node_id in needed:
        for value in nodes[node_id].inputs.values():
            if isinstance(value, Link) and value.node in in_needed:
                indegree[node_id] += 1
                consumers[value.node].append(node_id)
    ready = deque(node_id for node_id, count in indegree.items() if count == 0)
    order: list[str] = []
    while ready:
        node_id = ready.popleft()
        order.append(node_id)
        for consumer in consumers[node_id]:
            indegree[consumer] -= 1
            if indegree[consumer] == 0:
                ready.append(consumer)
    if len(order) < len(needed):
        stuck = {node_id for node_id, count in indegree.items() if count > 0}
        errors.extend(_cycles(graph, needed, stuck))
    return order


def _cycles(graph: Graph, needed: list[str], stuck: set[str]) -> list[GraphError]:
    """Find the cycles among ``stuck`` nodes: each has a stuck upstream node, so walking upstream must loop."""
    errors = []
    visited: set[str] = set()
    for start in needed:
        if start not in stuck or start in visited:
            continue
        path: list[str] = []
        position: dict[str, int] = {}
        current = start
        while current not in visited and current not in position:
            position[current] = len(path)
            path.append(current)
            current = next(
                value.node
                for value in graph.nodes[current].inputs.values()
                if isinstance(value, Link) and value.node in stuck
            )
        visited.update(path)
        if current in position:
            cycle = path[position[current] :][::-1]  # walked upstream; report in flow order
            shown = " -> ".join([*cycle, cycle[0]])
            errors.append(GraphError("cycle", f"the graph has a cycle: {shown}", node=cycle[0]))
    return errors
