"""Flux-only nodes: ComfyUI's CLIPTextEncodeFlux (separate CLIP-L and T5 prompts with the guidance value)."""

from __future__ import annotations

from nodepacks import sdk
from nodepacks.diffusion import runtime
from nodepacks.diffusion.families import get_family
from nodepacks.diffusion.handles import Clip, Cond, Conditioning, DiffusionError


class CLIPTextEncodeFlux(sdk.Node):
    """Encode a CLIP-L prompt (pooled) and a T5-XXL prompt (sequence) for Flux, with its guidance. Returns
    CONDITIONING."""

    id = "CLIPTextEncodeFlux"
    display_name = "CLIPTextEncodeFlux"
    category = "advanced/conditioning/flux"
    device = "gpu"

    class Inputs(sdk.Inputs):
        clip: Clip = sdk.link()
        clip_l: str = sdk.text("", multiline=True)
        t5xxl: str = sdk.text("", multiline=True)
        guidance: float = sdk.number(3.5, min=0.0, max=100.0, step=0.1)

    class Outputs(sdk.Outputs):
        CONDITIONING: Conditioning

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        if inputs.clip is None:
            raise DiffusionError("clip: no CLIP model (a checkpoint without a text encoder?)")
        family = get_family(inputs.clip.family)
        encode_pair = getattr(family, "encode_pair", None)
        if encode_pair is None:
            raise DiffusionError(
                f"clip: CLIPTextEncodeFlux needs a flux text encoder, this one is {family.name}"
            )
        stack = runtime.load_text_stack(inputs.clip, ctx.models)
        cond = encode_pair(stack, inputs.clip_l, inputs.t5xxl)
        return self.Outputs(CONDITIONING=[Cond(**cond, guidance=float(inputs.guidance))])


NODES = [CLIPTextEncodeFlux]
