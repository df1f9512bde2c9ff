"""Build a graph in Python: what an exported workflow script (``script.graph_to_script``) is written with.

    g = GraphBuilder()
    text = g.node("PrimitiveString", "text", value="hello")
    g.node("PreviewAny", "show", source=text[0])
    graph = g.build()

``graph`` is graph JSON, the same a saved workflow holds; ``flowyard run script.py`` reads it, and a script's
``if __name__ == "__main__": raise SystemExit(run())`` runs the file through the same command.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from workers.engine.graph import Link, parse_graph


@dataclass(frozen=True, slots=True)
class NodeRef:
    """A node added to a builder: ``ref[i]`` is a link to its output ``i`` (``ref`` alone is output 0)."""

    id: str

    def __getitem__(self, output: int) -> Link:
        if not isinstance(output, int) or output < 0:
            raise TypeError(f"node {self.id}: an output index is an int >= 0, not {output!r}")
        return Link(self.id, output)


class GraphBuilder:
    """Collects nodes and answers the graph JSON they make (``build``)."""

    def __init__(self) -> None:
        self._nodes: dict[str, dict[str, Any]] = {}
        self.outputs: list[str] | None = None
        self.subgraphs: dict[str, Any] | None = None

    def node(self, node_type: str, node_id: str | None = None, /, **inputs: Any) -> NodeRef:
        """Add a node of ``node_type`` (id ``node_id``, else the next free number) with these inputs.

        An input is a constant (JSON values) or a link: ``other[1]``, ``other`` (its output 0) or ``ref(id, i)``.
        """
        if node_id is None:
            node_id = str(len(self._nodes) + 1)
            while node_id in self._nodes:
                node_id = str(int(node_id) + 1)
        if node_id in self._nodes:
            raise ValueError(f"node id {node_id!r} is used twice")
        self._nodes[node_id] = {"type": node_type, "inputs": dict(inputs)}
        return NodeRef(node_id)

    def build(self) -> dict[str, Any]:
        """The graph JSON (the engine's form, as a saved workflow holds it)."""
        nodes = {
            node_id: {"type": node["type"], "inputs": {k: _encode(v) for k, v in node["inputs"].items()}}
            for node_id, node in self._nodes.items()
        }
        data: dict[str, Any] = {"nodes": nodes}
        if self.outputs is not None:
            data["outputs"] = list(self.outputs)
        # Structure checked now, so a mistake in a script is reported where it was made.
        data = {**parse_graph(data).to_json(), **({"subgraphs": self.subgraphs} if self.subgraphs else {})}
        return data


def ref(node_id: str, output: int = 0) -> Link:
    """A link to output ``output`` of node ``node_id`` (for a node added later in the script)."""
    return Link(node_id, output)


def _encode(value: Any) -> Any:
    if isinstance(value, NodeRef):
        return [value.id, 0]
    if isinstance(value, Link):
        return [value.node, value.output]
    if (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], int)
    ):
        return {"__value__": value}  # a constant that would read as a link
    return value


def run(argv: Sequence[str] | None = None) -> int:
    """Run the calling script like ``flowyard run SCRIPT [options]`` (options from ``argv`` or the command line)."""
    from workers.cli import main

    script = getattr(sys.modules["__main__"], "__file__", None)
    if not script:
        raise RuntimeError("run() runs a script file; in an interactive session use `flowyard run FILE`")
    return main(["run", script, *(sys.argv[1:] if argv is None else argv)])
