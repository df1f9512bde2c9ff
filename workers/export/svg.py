"""A workflow as an SVG picture: node boxes with titles, their widget values and ports, links as curves,
groups and notes; positions from the document's layout (a layered layout where it has none).

Self-contained (inline styles, no scripts, no external references): safe to show in an ``<img>``, to attach
to a review or to put in docs. Text is escaped; nothing from the graph is ever written as markup.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from workers.engine.graph import Link, parse_graph
from workers.engine.registry import NodeRegistry
from workers.export.layout import layered_layout

NODE_WIDTH = 240.0
HEADER = 28.0
ROW = 20.0
MARGIN = 24.0
MAX_WIDGET_ROWS = 8
# Link and port colours by data type (the editor's palette, roughly); other types are grey.
TYPE_COLOURS = {
    "IMAGE": "#64b5f6",
    "MASK": "#81c784",
    "LATENT": "#ff8a80",
    "MODEL": "#b39ddb",
    "CLIP": "#ffd54f",
    "VAE": "#ff7043",
    "CONDITIONING": "#ffa726",
    "STRING": "#a5d6a7",
    "INT": "#4dd0e1",
    "FLOAT": "#4db6ac",
    "BOOLEAN": "#90a4ae",
    "VIDEO": "#f06292",
    "AUDIO": "#ba68c8",
}
DEFAULT_COLOUR = "#9e9e9e"


@dataclass
class _Box:
    node_id: str
    title: str
    x: float
    y: float
    width: float
    inputs: list[tuple[str, str]]  # linked inputs: (name, type)
    widgets: list[tuple[str, str]]  # constant inputs: (name, shown value)
    outputs: list[tuple[str, str]]  # (name, type)

    @property
    def height(self) -> float:
        rows = max(len(self.inputs), len(self.outputs)) + min(len(self.widgets), MAX_WIDGET_ROWS)
        rows += 1 if len(self.widgets) > MAX_WIDGET_ROWS else 0
        return HEADER + ROW * max(rows, 1) + 8

    def input_port(self, name: str) -> tuple[float, float]:
        index = next((i for i, (n, _) in enumerate(self.inputs) if n == name), 0)
        return self.x, self.y + HEADER + ROW * (index + 0.5)

    def output_port(self, index: int) -> tuple[float, float]:
        return self.x + self.width, self.y + HEADER + ROW * (index + 0.5)


def _shown(value: Any, limit: int = 26) -> str:
    text = (
        value
        if isinstance(value, str)
        else repr(value)
        if not isinstance(value, bool)
        else str(value).lower()
    )
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def graph_to_svg(
    graph_json: Mapping[str, Any],
    layout: Mapping[str, Any] | None = None,
    registry: NodeRegistry | None = None,
    *,
    title: str | None = None,
) -> str:
    """The SVG document (a string) of graph JSON drawn at its layout's positions; ``registry`` names the
    outputs and types of known nodes (unknown ones show the outputs their links use)."""
    graph = parse_graph(graph_json)
    layout = layout or {}
    places: Mapping[str, Any] = layout.get("nodes") or {}
    fallback = layered_layout(graph.to_json()) if any(n not in places for n in graph.nodes) else {}
    used_outputs: dict[str, int] = {}
    for node in graph.nodes.values():
        for _, link in node.links():
            used_outputs[link.node] = max(used_outputs.get(link.node, 0), link.output + 1)
    boxes: dict[str, _Box] = {}
    for node_id, node in graph.nodes.items():
        entry = registry.get(node.type) if registry is not None else None
        schema = entry.schema if entry is not None else None
        input_types = {spec.name: str(spec.type) for spec in schema.inputs} if schema else {}
        if schema is not None:
            outputs = [(spec.name, str(spec.type)) for spec in schema.outputs]
        else:
            outputs = [(f"out {i}", "*") for i in range(used_outputs.get(node_id, 0))]
        place = places.get(node_id) or fallback.get(node_id) or {"x": 0.0, "y": 0.0}
        name = place.get("title") or (schema.display_name if schema and schema.display_name else node.type)
        boxes[node_id] = _Box(
            node_id=node_id,
            title=str(name),
            x=float(place.get("x", 0.0)),
            y=float(place.get("y", 0.0)),
            width=float(place.get("width") or NODE_WIDTH),
            inputs=[(n, input_types.get(n, "*")) for n, v in node.inputs.items() if isinstance(v, Link)],
            widgets=[(n, _shown(v)) for n, v in node.inputs.items() if not isinstance(v, Link)],
            outputs=outputs,
        )
    groups = [g for g in layout.get("groups") or [] if isinstance(g, Mapping)]
    notes = [n for n in layout.get("notes") or [] if isinstance(n, Mapping)]
    rects = [(b.x, b.y, b.x + b.width, b.y + b.height) for b in boxes.values()]
    rects += [(g["x"], g["y"], g["x"] + g["width"], g["y"] + g["height"]) for g in groups]
    rects += [
        (n["x"], n["y"], n["x"] + (n.get("width") or 220), n["y"] + (n.get("height") or 100)) for n in notes
    ]
    if not rects:
        rects = [(0.0, 0.0, 200.0, 60.0)]
    left = min(r[0] for r in rects) - MARGIN
    top = min(r[1] for r in rects) - MARGIN - (28 if title else 0)
    width = max(r[2] for r in rects) + MARGIN - left
    height = max(r[3] for r in rects) + MARGIN - top

    out: list[str] = [
        '<svg xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="{_number(left)} {_number(top)} {_number(width)} {_number(height)}" '
        f'width="{_number(width)}" height="{_number(height)}" '
        'font-family="Inter, Segoe UI, Helvetica, Arial, sans-serif" font-size="12">',
        f"<title>{escape(title or 'Flowyard workflow')}</title>",
        f'<rect x="{_number(left)}" y="{_number(top)}" width="{_number(width)}" height="{_number(height)}" '
        'fill="#1e1f24"/>',
    ]
    if title:
        out.append(
            f'<text x="{_number(left + MARGIN)}" y="{_number(top + 26)}" fill="#e8e8ec" font-size="16" '
            f'font-weight="600">{escape(title)}</text>'
        )
    for group in groups:
        out.append(
            f'<g class="group"><rect x="{_number(group["x"])}" y="{_number(group["y"])}" '
            f'width="{_number(group["width"])}" height="{_number(group["height"])}" rx="6" '
            f'fill={quoteattr(str(group.get("color") or "#3b4252"))} fill-opacity="0.25" stroke="#5e6573"/>'
            f'<text x="{_number(group["x"] + 8)}" y="{_number(group["y"] + 18)}" fill="#d8dee9" '
            f'font-weight="600">{escape(str(group.get("title", "")))}</text></g>'
        )
    for note in notes:
        text = str(note.get("text", ""))
        if note.get("markdown"):  # the marks, not their rendering: a picture shows the words
            text = re.sub(r"[*_`#>]+", "", text)
        lines = [line for line in text.splitlines() if line.strip()][:6]
        spans = "".join(
            f'<tspan x="{_number(note["x"] + 8)}" dy="16">{escape(_shown(line, 34))}</tspan>'
            for line in lines
        )
        out.append(
            f'<g class="note"><rect x="{_number(note["x"])}" y="{_number(note["y"])}" '
            f'width="{_number(note.get("width") or 220)}" height="{_number(note.get("height") or 100)}" rx="4" '
            f'fill="#4a4425" stroke="#8a7f3a"/><text y="{_number(note["y"] + 4)}" fill="#f3e9b5">{spans}</text></g>'
        )
    for node_id, node in graph.nodes.items():
        target = boxes[node_id]
        for input_name, link in node.links():
            source = boxes.get(link.node)
            if source is None:
                continue
            x1, y1 = source.output_port(link.output)
            x2, y2 = target.input_port(input_name)
            bend = max(40.0, abs(x2 - x1) / 2)
            kind = source.outputs[link.output][1] if link.output < len(source.outputs) else "*"
            out.append(
                f'<path class="link" data-from="{escape(link.node)}" data-to="{escape(node_id)}" '
                f'd="M{_number(x1)},{_number(y1)} C{_number(x1 + bend)},{_number(y1)} '
                f'{_number(x2 - bend)},{_number(y2)} {_number(x2)},{_number(y2)}" fill="none" '
                f'stroke="{TYPE_COLOURS.get(kind, DEFAULT_COLOUR)}" stroke-width="2.5" stroke-opacity="0.85"/>'
            )
    for box in boxes.values():
        out.append(_node(box))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _node(box: _Box) -> str:
    x, y, w = box.x, box.y, box.width
    parts = [
        f'<g class="node" data-node={quoteattr(box.node_id)} transform="translate({_number(x)},{_number(y)})">',
        f'<rect width="{_number(w)}" height="{_number(box.height)}" rx="8" fill="#2b2d35" stroke="#4b4f5c"/>',
        f'<path d="M0,8 a8,8 0 0 1 8,-8 h{_number(w - 16)} a8,8 0 0 1 8,8 v{_number(HEADER - 8)} h{_number(-w)} z" '
        'fill="#3a3d48"/>',
        f'<text class="title" x="10" y="19" fill="#f0f0f4" font-weight="600">{escape(_shown(box.title, 34))}</text>',
    ]
    for index, (name, kind) in enumerate(box.inputs):
        cy = HEADER + ROW * (index + 0.5)
        parts.append(
            f'<circle cx="0" cy="{_number(cy)}" r="4.5" fill="{TYPE_COLOURS.get(kind, DEFAULT_COLOUR)}"/>'
            f'<text x="10" y="{_number(cy + 4)}" fill="#c8cad2">{escape(_shown(name, 18))}</text>'
        )
    for index, (name, kind) in enumerate(box.outputs):
        cy = HEADER + ROW * (index + 0.5)
        parts.append(
            f'<circle cx="{_number(w)}" cy="{_number(cy)}" r="4.5" fill="{TYPE_COLOURS.get(kind, DEFAULT_COLOUR)}"/>'
            f'<text x="{_number(w - 10)}" y="{_number(cy + 4)}" fill="#c8cad2" text-anchor="end">'
            f"{escape(_shown(name, 18))}</text>"
        )
    top = HEADER + ROW * max(len(box.inputs), len(box.outputs))
    shown = box.widgets[:MAX_WIDGET_ROWS]
    for index, (name, value) in enumerate(shown):
        cy = top + ROW * (index + 0.5)
        parts.append(
            f'<text x="10" y="{_number(cy + 4)}" fill="#9aa0ad">{escape(_shown(name, 16))}</text>'
            f'<text x="{_number(w - 10)}" y="{_number(cy + 4)}" fill="#e0e2e8" text-anchor="end">'
            f"{escape(value)}</text>"
        )
    if len(box.widgets) > len(shown):
        cy = top + ROW * (len(shown) + 0.5)
        parts.append(
            f'<text x="10" y="{_number(cy + 4)}" fill="#9aa0ad">+{len(box.widgets) - len(shown)} more</text>'
        )
    parts.append("</g>")
    return "".join(parts)
