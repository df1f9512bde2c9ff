"""A workflow as a runnable Python script that builds the same graph with ``GraphBuilder`` and runs it.

The script is plain Python a person can read and change: one ``g.node(...)`` line per node in the order the
graph runs, links as ``source[output]``, node titles as comments. ``flowyard run script.py`` and
``python script.py`` both run it (the second through ``builder.run``, which hands the file to the first).
"""

from __future__ import annotations

import json
import keyword
import re
from collections.abc import Mapping
from typing import Any

from workers.engine.graph import Graph, Link, parse_graph

# Names the script itself uses, which no node variable may take.
_RESERVED = {"g", "graph", "run", "ref", "GraphBuilder", "SystemExit", "print", "id", "type", "input"}


def _snake(text: str) -> str:
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", text)
    return re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower()


def _variable_names(graph: Graph, titles: Mapping[str, str]) -> dict[str, str]:
    names: dict[str, str] = {}
    taken = set(_RESERVED)
    for node_id, node in graph.nodes.items():
        if node_id.isidentifier() and not keyword.iskeyword(node_id) and not node_id.startswith("_"):
            base = node_id
        else:
            base = _snake(titles.get(node_id) or node.type.rpartition(".")[2]) or "node"
            if not base.isidentifier() or keyword.iskeyword(base):
                base = f"node_{base}"
        name, n = base, 2
        while name in taken:
            name, n = f"{base}_{n}", n + 1
        taken.add(name)
        names[node_id] = name
    return names


def _order(graph: Graph) -> list[str]:
    """Sources before the nodes that read them, else the graph's own order (a cycle keeps it)."""
    waiting = {
        node_id: {link.node for _, link in node.links() if link.node in graph.nodes and link.node != node_id}
        for node_id, node in graph.nodes.items()
    }
    done: set[str] = set()
    order: list[str] = []
    progress = True
    while progress:
        progress = False
        for node_id in graph.nodes:
            if node_id not in done and waiting[node_id] <= done:
                done.add(node_id)
                order.append(node_id)
                progress = True
    return order + [node_id for node_id in graph.nodes if node_id not in done]


def _literal(value: Any) -> str:
    """Python source for a JSON value: strings in double quotes (JSON's escapes are Python's too)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_literal(str(k))}: {_literal(v)}" for k, v in value.items()) + "}"
    return repr(value)  # bool, None, int, float: Python's spelling


def _docstring_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


def graph_to_script(
    graph_json: Mapping[str, Any],
    layout: Mapping[str, Any] | None = None,
    *,
    name: str = "Workflow",
    source: str = "",
    filename: str = "workflow.py",
) -> str:
    """Python source that rebuilds ``graph_json`` (engine form) and runs it; ``source`` says where it came from
    (for the docstring), ``filename`` what the file will be called, ``layout`` gives node titles (comments)."""
    graph = parse_graph(graph_json)
    titles = {
        node_id: str(place["title"])
        for node_id, place in ((layout or {}).get("nodes") or {}).items()
        if isinstance(place, Mapping) and place.get("title")
    }
    names = _variable_names(graph, titles)
    emitted: set[str] = set()
    lines: list[str] = []
    uses_ref = False
    for node_id in _order(graph):
        node = graph.nodes[node_id]
        arguments = [_literal(node.type), _literal(node_id)]
        odd: dict[str, str] = {}
        for input_name, value in node.inputs.items():
            if isinstance(value, Link):
                if value.node in emitted:
                    text = f"{names[value.node]}[{value.output}]"
                else:
                    text, uses_ref = f"ref({_literal(value.node)}, {value.output})", True
            else:
                text = _literal(value)
            if input_name.isidentifier() and not keyword.iskeyword(input_name):
                arguments.append(f"{input_name}={text}")
            else:
                odd[input_name] = text
        if odd:
            arguments.append("**{" + ", ".join(f"{_literal(k)}: {v}" for k, v in odd.items()) + "}")
        if node_id in titles:
            lines.append(f"# {' '.join(titles[node_id].split())}")
        call = f"{names[node_id]} = g.node({', '.join(arguments)})"
        if len(call) > 110:
            inner = ",\n    ".join(arguments)
            call = f"{names[node_id]} = g.node(\n    {inner},\n)"
        lines.append(call)
        emitted.add(node_id)
    extra: list[str] = []
    if graph.outputs is not None:
        extra.append(f"g.outputs = {_literal(list(graph.outputs))}")
    if graph_json.get("subgraphs"):
        extra.append(f"g.subgraphs = {_literal(graph_json['subgraphs'])}")
    imports = "GraphBuilder, ref, run" if uses_ref else "GraphBuilder, run"
    title = " ".join(name.split()) or "Workflow"
    header = f'''#!/usr/bin/env python3
"""{_docstring_text(title)}{f" ({_docstring_text(source)})" if source else ""}, exported from Flowyard as code.

Builds the workflow's graph ({len(graph.nodes)} node{"s" if len(graph.nodes) != 1 else ""}) and runs it on this machine:

    flowyard run {filename} --out out/
    python {filename} --out out/

Both take the options of `flowyard run` (--set NODE.INPUT=VALUE, --output NODE, --models DIR, --pack PACK).
Files the graph reads (LoadImage's image, a workspace upload on the server) are looked up next to this file and
in the current directory.
"""

from workers.export.builder import {imports}

g = GraphBuilder()
'''
    body = "\n".join([*lines, *extra])
    return f"""{header}{body}
graph = g.build()

if __name__ == "__main__":
    raise SystemExit(run())
"""
