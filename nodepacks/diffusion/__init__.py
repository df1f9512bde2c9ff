"""The built-in diffusion pack: ComfyUI's model loaders, conditioning, latent, VAE, LoRA, upscale and sampling
nodes over diffusers/transformers networks (families: SD1.x, SD2.x, SDXL, SD3/3.5, FLUX.1; packs add more with
``nodepacks.diffusion.families.register_family``). Importing the pack does not import torch."""

from nodepacks.diffusion import (
    nodes_clip_vision,
    nodes_controlnet,
    nodes_flux,
    nodes_ip2p,
    nodes_latent,
    nodes_latent_extra,
    nodes_loaders,
)
from nodepacks.sdk import Pack

try:
    from nodepacks.diffusion.nodes_sampling import NODES as SAMPLING_NODES
except ImportError:  # the sampling nodes are optional until they land
    SAMPLING_NODES = []

pack = Pack(
    name="diffusion",
    version="0.1.0",
    display_name="Diffusion",
    description="Stable Diffusion family models: loaders, text encoding, latents, VAE, LoRA, upscaling, sampling.",
    nodes=[
        *nodes_loaders.NODES,
        *nodes_latent.NODES,
        *nodes_latent_extra.NODES,
        *nodes_flux.NODES,
        *nodes_controlnet.NODES,
        *nodes_clip_vision.NODES,
        *nodes_ip2p.NODES,
        *SAMPLING_NODES,
    ],
    builtin=True,
)
