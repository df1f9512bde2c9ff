"""The Flowyard node SDK: everything a node author imports.

from nodepacks import sdk

class Invert(sdk.Node):
    \"\"\"Invert the colours of an image.\"\"\"
    id = "ImageInvert"
    category = "image/color"

    class Inputs(sdk.Inputs):
        image: sdk.Image = sdk.link()

    class Outputs(sdk.Outputs):
        image: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(image=1.0 - inputs.image)
"""

from nodepacks.sdk import types
from nodepacks.sdk.context import (
    AwaitDecision,
    Cancelled,
    Context,
    FileProvider,
    ModelProvider,
    NodeError,
    NodeTimeout,
)
from nodepacks.sdk.inputs import color, link, model_file, number, output, seed, select, text, toggle, upload
from nodepacks.sdk.node import (
    UI,
    Inputs,
    InputSpec,
    MediaFile,
    Node,
    NodeSchema,
    Outputs,
    OutputSpec,
    Result,
    Retry,
)
from nodepacks.sdk.pack import API_VERSION, Pack, PackError, is_semver
from nodepacks.sdk.types import (
    AnyValue,
    Audio,
    AudioValue,
    Image,
    JSONValue,
    Mask,
    Mesh,
    MeshValue,
    Video,
    VideoValue,
    define_type,
)

__all__ = [
    "API_VERSION",
    "UI",
    "AnyValue",
    "Audio",
    "AudioValue",
    "AwaitDecision",
    "Cancelled",
    "Context",
    "FileProvider",
    "Image",
    "InputSpec",
    "Inputs",
    "JSONValue",
    "Mask",
    "MediaFile",
    "Mesh",
    "MeshValue",
    "ModelProvider",
    "Node",
    "NodeError",
    "NodeSchema",
    "NodeTimeout",
    "OutputSpec",
    "Outputs",
    "Pack",
    "PackError",
    "Result",
    "Retry",
    "Video",
    "VideoValue",
    "color",
    "define_type",
    "is_semver",
    "link",
    "model_file",
    "number",
    "output",
    "seed",
    "select",
    "text",
    "toggle",
    "types",
    "upload",
]
