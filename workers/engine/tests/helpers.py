"""Graph builders for engine tests."""

from __future__ import annotations

from typing import Any

from workers.engine import Graph, parse_graph


def graph(nodes: dict[str, tuple[str, dict[str, Any]]], outputs: list[str] | None = None) -> Graph:
    """Build a graph from {id: (type, inputs)}; a link is written [node id, output index]."""
    data: dict[str, Any] = {"nodes": {k: {"type": t, "inputs": i} for k, (t, i) in nodes.items()}}
    if outputs is not None:
        data["outputs"] = outputs
    return parse_graph(data)


def add_chain(length: int, *, start: int = 0, show: bool = True) -> Graph:
    """Const(start) -> Add(+1) x (length - 1) -> Show; node ids are "0".."length-1" and "show"."""
    nodes: dict[str, tuple[str, dict[str, Any]]] = {"0": ("test.Const", {"value": start})}
    for i in range(1, length):
        nodes[str(i)] = ("test.Add", {"a": [str(i - 1), 0], "b": 1})
    if show:
        nodes["show"] = ("test.Show", {"value": [str(length - 1), 0]})
        return graph(nodes)
    return graph(nodes, outputs=[str(length - 1)])
