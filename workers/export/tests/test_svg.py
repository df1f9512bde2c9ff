"""The SVG picture: every node with its title at its layout position, every link, groups and notes; escaped."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from workers.engine.registry import default_registry
from workers.export import graph_to_svg, layered_layout

SVG = "{http://www.w3.org/2000/svg}"
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def nodes_of(root: ET.Element) -> dict[str, ET.Element]:
    return {g.attrib["data-node"]: g for g in root.iter(f"{SVG}g") if g.attrib.get("class") == "node"}


def title_of(node: ET.Element) -> str:
    return next(t.text or "" for t in node.iter(f"{SVG}text") if t.attrib.get("class") == "title")


def test_nodes_titles_links_and_positions_come_from_the_document() -> None:
    graph = {
        "nodes": {
            "text": {"type": "PrimitiveString", "inputs": {"value": "hello"}},
            "split": {"type": "TextSplit", "inputs": {"string": ["text", 0], "delimiter": " "}},
            "show": {"type": "PreviewAny", "inputs": {"source": ["split", 1]}},
        }
    }
    layout = {
        "nodes": {
            "text": {"x": 10, "y": 20, "title": "Greeting"},
            "split": {"x": 400, "y": 20},
            "show": {"x": 800, "y": 300, "width": 300},
        },
        "groups": [{"id": "g1", "title": "Words", "x": 0, "y": 0, "width": 700, "height": 300}],
        "notes": [{"id": "n1", "x": 0, "y": 500, "text": "Read me\nsecond line"}],
    }
    root = ET.fromstring(graph_to_svg(graph, layout, default_registry(), title="Demo"))
    nodes = nodes_of(root)
    assert set(nodes) == {"text", "split", "show"}
    assert nodes["text"].attrib["transform"] == "translate(10,20)"
    assert nodes["show"].attrib["transform"] == "translate(800,300)"
    assert next(nodes["show"].iter(f"{SVG}rect")).attrib["width"] == "300"
    # The layout's title, else the node's display name.
    assert title_of(nodes["text"]) == "Greeting"
    assert title_of(nodes["split"]) == "Split Text"
    links = [p for p in root.iter(f"{SVG}path") if p.attrib.get("class") == "link"]
    assert sorted((p.attrib["data-from"], p.attrib["data-to"]) for p in links) == [
        ("split", "show"),
        ("text", "split"),
    ]
    # The link from split's second output starts at that output's port: the node's right edge, second row.
    start = re.match(
        r"M([\d.]+),([\d.]+)", next(p for p in links if p.attrib["data-from"] == "split").attrib["d"]
    )
    assert start is not None and float(start[1]) == 400 + 240 and float(start[2]) > 20 + 28 + 20
    texts = {t.text for t in root.iter(f"{SVG}text")} | {t.text for t in root.iter(f"{SVG}tspan")}
    assert {"Words", "Read me", "second line", "Demo", "hello"} <= texts


def test_a_graph_without_layout_is_drawn_left_to_right_by_depth() -> None:
    data = json.loads((EXAMPLES / "txt2img.json").read_text())
    root = ET.fromstring(graph_to_svg(data, None, default_registry()))
    nodes = nodes_of(root)
    assert len(nodes) == 7
    x = {node_id: float(g.attrib["transform"][10:].split(",")[0]) for node_id, g in nodes.items()}
    # loader (4) -> prompts (6, 7) -> sampler (3) -> decode (8) -> save (9)
    assert x["4"] < x["6"] == x["7"] < x["3"] < x["8"] < x["9"]
    assert layered_layout(data)["3"]["x"] == x["3"]


def test_text_from_the_graph_is_escaped_never_markup() -> None:
    graph = {
        "nodes": {"1": {"type": "Evil<script>", "inputs": {"value": "</text><script>alert(1)</script>"}}}
    }
    layout = {"nodes": {"1": {"x": 0, "y": 0, "title": '"><script>x</script>'}}}
    svg = graph_to_svg(graph, layout)
    root = ET.fromstring(svg)  # well-formed
    assert not list(root.iter(f"{SVG}script")) and "<script>" not in svg
    assert title_of(nodes_of(root)["1"]).startswith('"><script>')


def test_a_chain_of_twenty_thousand_nodes_lays_out_without_recursion() -> None:
    nodes = {"0": {"type": "PrimitiveInt", "inputs": {"value": 1}}}
    for i in range(1, 20_000):
        nodes[str(i)] = {"type": "IntMath", "inputs": {"a": [str(i - 1), 0], "b": 1, "operation": "add"}}
    positions = layered_layout({"nodes": nodes})
    assert positions["19999"]["x"] > positions["0"]["x"]
