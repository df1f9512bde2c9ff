"""Positions for graphs that come without any: columns by depth (longest path from a source), left to right.

Used by the SVG drawing, by built-in templates shipped without a layout and by files opened without one (a
ComfyUI API prompt, a bare graph). Deterministic: the same graph gets the same positions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

COLUMN_WIDTH = 420.0  # the widest common nodes (a prompt, a sampler) are 340 px
ROW_GAP = 60.0
BASE_HEIGHT = 60.0
ROW_HEIGHT = 28.0
TEXT_BOX_HEIGHT = 60.0  # a multi-line text widget is taller than a row


def estimated_height(node: Mapping[str, Any], outputs: int = 1) -> float:
    """Roughly how tall the editor draws a node: a header, a row per input and per output beyond the first,
    more for long text."""
    inputs = node.get("inputs") or {}
    long_texts = sum(1 for v in inputs.values() if isinstance(v, str) and (len(v) > 30 or "\n" in v))
    # Text inputs often get a multi-line box, and upload pickers a second row.
    strings = sum(1 for v in inputs.values() if isinstance(v, str))
    rows = len(inputs) + strings + max(outputs - 1, 0)
    return BASE_HEIGHT + ROW_HEIGHT * rows + TEXT_BOX_HEIGHT * long_texts


def _sources(node: Mapping[str, Any], nodes: Mapping[str, Any]) -> list[str]:
    found = []
    for value in (node.get("inputs") or {}).values():
        if (
            isinstance(value, list)
            and len(value) == 2
            and isinstance(value[0], str)
            and isinstance(value[1], int)
            and value[0] in nodes
        ):
            found.append(value[0])
    return found


def layered_layout(graph: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """``{node id: {"x", "y"}}`` for every node of graph JSON (engine form or a ComfyUI API prompt).

    A node's column is one more than its deepest source's; within a column nodes keep the graph's order,
    stacked with their estimated heights. Links in cycles (which no valid graph has) are ignored.
    """
    nodes: Mapping[str, Any] = graph["nodes"] if isinstance(graph.get("nodes"), Mapping) else graph
    nodes = {str(k): v for k, v in nodes.items() if isinstance(v, Mapping)}
    sources = {node_id: _sources(node, nodes) for node_id, node in nodes.items()}
    depth = _depths(sources)
    outputs = {node_id: 1 for node_id in nodes}
    for node in nodes.values():
        for value in (node.get("inputs") or {}).values():
            if (
                isinstance(value, list)
                and len(value) == 2
                and value[0] in outputs
                and isinstance(value[1], int)
            ):
                outputs[value[0]] = max(outputs[value[0]], value[1] + 1)
    columns: dict[int, list[str]] = {}
    for node_id in nodes:
        columns.setdefault(depth[node_id], []).append(node_id)
    positions: dict[str, dict[str, float]] = {}
    for column, members in sorted(columns.items()):
        y = 0.0
        for node_id in members:
            positions[node_id] = {"x": column * COLUMN_WIDTH, "y": y}
            y += estimated_height(nodes[node_id], outputs[node_id]) + ROW_GAP
    return positions


def _depths(sources: Mapping[str, list[str]]) -> dict[str, int]:
    """Longest path from a source, in topological order (no recursion: chains can be 20,000 nodes long)."""
    consumers: dict[str, list[str]] = {node_id: [] for node_id in sources}
    waiting = {node_id: len(set(found)) for node_id, found in sources.items()}
    for node_id, found in sources.items():
        for source in set(found):
            consumers[source].append(node_id)
    depth = {node_id: 0 for node_id in sources}
    ready = [node_id for node_id, count in waiting.items() if count == 0]
    while ready:
        node_id = ready.pop()
        for consumer in consumers[node_id]:
            depth[consumer] = max(depth[consumer], depth[node_id] + 1)
            waiting[consumer] -= 1
            if waiting[consumer] == 0:
                ready.append(consumer)
    return depth  # nodes on a cycle keep what they had reached
