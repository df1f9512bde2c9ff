"""The built-in core pack: primitives, math, text, logic, JSON and image nodes."""

from nodepacks.sdk import Pack

pack = Pack(
    name="core",
    version="0.1.0",
    display_name="Core",
    description="Primitives, math, text, logic, JSON and image operations.",
    nodes=[],
    builtin=True,
)
