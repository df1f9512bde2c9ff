"""The built-in core pack: primitives, math, text, logic, JSON and image nodes."""

from nodepacks.core import (
    approval,
    audio_extras,
    extras,
    image_edit,
    image_io,
    image_ops,
    json_nodes,
    logic,
    mask,
    math_nodes,
    preview,
    primitives,
    text,
    utility,
    video_audio,
)
from nodepacks.sdk import Pack

pack = Pack(
    name="core",
    version="0.1.0",
    display_name="Core",
    description="Primitives, math, text, logic, JSON and image operations.",
    nodes=[
        *primitives.NODES,
        *math_nodes.NODES,
        *text.NODES,
        *logic.NODES,
        *json_nodes.NODES,
        *preview.NODES,
        *image_io.NODES,
        *image_ops.NODES,
        *image_edit.NODES,
        *mask.NODES,
        *utility.NODES,
        *video_audio.NODES,
        *extras.NODES,
        *audio_extras.NODES,
        *approval.NODES,
    ],
    builtin=True,
)
