"""A workflow as code and as a picture: a runnable Python script (``script``), an SVG drawing (``svg``), and the
layered layout both fall back on when a graph comes without positions (``layout``). No Django here."""

from workers.export.builder import GraphBuilder, NodeRef
from workers.export.layout import layered_layout
from workers.export.script import graph_to_script
from workers.export.svg import graph_to_svg

__all__ = ["GraphBuilder", "NodeRef", "graph_to_script", "graph_to_svg", "layered_layout"]
