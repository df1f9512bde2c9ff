"""The built-in core pack: primitives, math, text, logic, JSON and image nodes."""

from nodepacks.core import image_io, image_ops
from nodepacks.sdk import Pack

pack = Pack(
    name="core",
    version="0.1.0",
    display_name="Core",
    description="Primitives, math, text, logic, JSON and image operations.",
    nodes=[*image_io.NODES, *image_ops.NODES],
    builtin=True,
)
