"""CLIP vision, style model and unCLIP nodes with ComfyUI's names, inputs and semantics: CLIPVisionLoader,
CLIPVisionEncode, StyleModelLoader, StyleModelApply (Flux Redux) and unCLIPConditioning (SDXL revision)."""

from __future__ import annotations

from nodepacks import sdk
from nodepacks.diffusion import clip_vision, library
from nodepacks.diffusion.clip_vision import ClipVisionOutput, ClipVisionType, StyleModelType
from nodepacks.diffusion.handles import Conditioning, DiffusionError


class CLIPVisionLoader(sdk.Node):
    """Load a CLIP vision model (clip_vision_g / clip_vision_h / sigclip_vision_patch14_384...). Returns
    CLIP_VISION."""

    id = "CLIPVisionLoader"
    display_name = "Load CLIP Vision"
    category = "loaders"

    class Inputs(sdk.Inputs):
        clip_name: str = sdk.model_file("clip_vision")

    class Outputs(sdk.Outputs):
        CLIP_VISION: ClipVisionType

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        path, sha256 = library.resolve(ctx.models, "clip_vision", inputs.clip_name, "clip_name")
        try:
            vision = clip_vision.open_clip_vision(path, sha256)
        except DiffusionError as exc:
            raise DiffusionError(f"clip_name: {exc}") from None
        return self.Outputs(CLIP_VISION=vision)


class CLIPVisionEncode(sdk.Node):
    """Encode an image with a CLIP vision model (centre-cropped to its square, or stretched with crop "none").
    Returns CLIP_VISION_OUTPUT."""

    id = "CLIPVisionEncode"
    display_name = "CLIP Vision Encode"
    category = "conditioning"

    class Inputs(sdk.Inputs):
        clip_vision: ClipVisionType = sdk.link()
        image: sdk.Image = sdk.link()
        crop: str = sdk.select("center", options=["center", "none"])

    class Outputs(sdk.Outputs):
        CLIP_VISION_OUTPUT: ClipVisionOutput

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        output = clip_vision.encode(
            inputs.clip_vision, ctx.models, inputs.image, crop=inputs.crop == "center"
        )
        return self.Outputs(CLIP_VISION_OUTPUT=output)


class StyleModelLoader(sdk.Node):
    """Load a style model (Flux Redux). Returns STYLE_MODEL."""

    id = "StyleModelLoader"
    display_name = "Load Style Model"
    category = "loaders"

    class Inputs(sdk.Inputs):
        style_model_name: str = sdk.model_file("style_models")

    class Outputs(sdk.Outputs):
        STYLE_MODEL: StyleModelType

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        path, sha256 = library.resolve(
            ctx.models, "style_models", inputs.style_model_name, "style_model_name"
        )
        try:
            style = clip_vision.open_style_model(path, sha256)
        except DiffusionError as exc:
            raise DiffusionError(f"style_model_name: {exc}") from None
        return self.Outputs(STYLE_MODEL=style)


class StyleModelApply(sdk.Node):
    """Add an image's style tokens (Flux Redux over a SigLIP encoding) to a conditioning's text. Returns
    CONDITIONING."""

    id = "StyleModelApply"
    display_name = "Apply Style Model"
    category = "conditioning/style_model"

    class Inputs(sdk.Inputs):
        conditioning: Conditioning = sdk.link()
        style_model: StyleModelType = sdk.link()
        clip_vision_output: ClipVisionOutput = sdk.link()
        strength: float = sdk.number(1.0, min=0.0, max=10.0, step=0.001)
        strength_type: str = sdk.select("multiply", options=["multiply", "attn_bias"])

    class Outputs(sdk.Outputs):
        CONDITIONING: Conditioning

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        output = clip_vision.check_output(inputs.clip_vision_output)
        tokens = clip_vision.style_tokens(inputs.style_model, ctx.models, output)
        conditioning = clip_vision.apply_style(
            inputs.conditioning, tokens, inputs.strength, inputs.strength_type
        )
        return self.Outputs(CONDITIONING=conditioning)


class UnCLIPConditioning(sdk.Node):
    """Condition on an image's CLIP vision embedding (SDXL revision: it becomes the pooled input). Returns
    CONDITIONING."""

    id = "unCLIPConditioning"
    display_name = "unCLIPConditioning"
    category = "conditioning"

    class Inputs(sdk.Inputs):
        conditioning: Conditioning = sdk.link()
        clip_vision_output: ClipVisionOutput = sdk.link()
        strength: float = sdk.number(1.0, min=-10.0, max=10.0, step=0.01)
        noise_augmentation: float = sdk.number(0.0, min=0.0, max=1.0, step=0.01)

    class Outputs(sdk.Outputs):
        CONDITIONING: Conditioning

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        if inputs.strength == 0:
            return self.Outputs(CONDITIONING=inputs.conditioning)
        output = clip_vision.check_output(inputs.clip_vision_output)
        conditioning = clip_vision.add_unclip(
            inputs.conditioning, output, inputs.strength, inputs.noise_augmentation
        )
        return self.Outputs(CONDITIONING=conditioning)


NODES = [CLIPVisionLoader, CLIPVisionEncode, StyleModelLoader, StyleModelApply, UnCLIPConditioning]
