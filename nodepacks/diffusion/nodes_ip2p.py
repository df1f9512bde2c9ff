"""InstructPixToPixConditioning: an image's latent as extra input channels for instruct-pix2pix UNets and
FLUX.1 Canny/Depth (ComfyUI's name, inputs and semantics)."""

from __future__ import annotations

import numpy as np

from nodepacks import sdk
from nodepacks.diffusion import runtime
from nodepacks.diffusion.handles import Cond, Conditioning, Latent, Vae
from nodepacks.diffusion.nodes_latent import _crop_to_8


class InstructPixToPixConditioning(sdk.Node):
    """Encode ``pixels`` (cropped to a multiple of 8 around the centre) and put the latent into both
    conditionings as the image a model concatenates to its input (an instruct-pix2pix UNet, FLUX.1 Canny or
    Depth). Returns positive, negative and an empty (zero) latent of the image's size to sample."""

    id = "InstructPixToPixConditioning"
    display_name = "InstructPixToPixConditioning"
    category = "conditioning/instructpix2pix"
    device = "gpu"

    class Inputs(sdk.Inputs):
        positive: Conditioning = sdk.link()
        negative: Conditioning = sdk.link()
        vae: Vae = sdk.link()
        pixels: sdk.Image = sdk.link()

    class Outputs(sdk.Outputs):
        positive: Conditioning
        negative: Conditioning
        latent: Latent

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        pixels = _crop_to_8(inputs.pixels)[..., :3].astype(np.float32)
        image = runtime.vae_encode(inputs.vae, ctx.models, pixels)

        def conditioned(conds: list[Cond]) -> list[Cond]:
            return [{**c, "concat_latent_image": image} for c in conds]  # replaces an earlier image

        return self.Outputs(
            positive=conditioned(inputs.positive),
            negative=conditioned(inputs.negative),
            latent={"samples": np.zeros_like(image)},
        )


NODES: list[type[sdk.Node]] = [InstructPixToPixConditioning]
