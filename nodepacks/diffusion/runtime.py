"""Loading warm networks through the model provider, and the one denoiser interface every sampler calls.

``prepare_denoiser(model, ctx.models)`` returns a :class:`Denoiser`: ``denoiser(x, sigma, conds)`` takes noisy
latents in denoiser space (batch, channels, h, w), one sigma per batch item and a CONDITIONING list, and returns
the predicted clean latent (same shape, float32). CFG is the sampler's job: call it once with the positive and
once with the negative conditioning (or once with both batched by the caller).

Conditioning entries are applied the way ComfyUI does: each entry whose ``start_percent``/``end_percent`` range
holds the current sigma is run and the predictions are averaged, weighted by ``strength`` (and ``mask``).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from nodepacks import sdk
from nodepacks.diffusion import clip_vision, controlnet, lora

# Where networks are built, and the lock around it (building.py); still named here, where callers found them.
from nodepacks.diffusion.building import BUILD_LOCK as BUILD_LOCK
from nodepacks.diffusion.building import pick_device as pick_device
from nodepacks.diffusion.families import Family, get_family
from nodepacks.diffusion.handles import (
    Cond,
    DiffusionError,
    DiffusionModel,
    LatentFormat,
    ModelSampling,
    TextEncoder,
    VAEModel,
)
from nodepacks.diffusion.weights import place

if TYPE_CHECKING:  # pragma: no cover
    import torch


def _size_of(module: Any) -> int | None:
    try:
        size: int = sum(p.numel() * p.element_size() for p in module.parameters())
    except AttributeError:
        return None
    return size


def load_diffusion_network(model: DiffusionModel, models: sdk.ModelProvider) -> Any:
    """The warm network of ``model`` (its patches applied), loaded once per ``model.key``."""
    family = get_family(model.family)
    device, dtype = pick_device()
    if model.weights is None:
        raise DiffusionError(f"model {model.source}: no weights to load")
    weights = model.weights

    def load_base() -> Any:
        with BUILD_LOCK:
            network = family.load_diffusion_model(weights, device, dtype)
            return place(network, device, dtype)

    base_key = model.key.split("|", 1)[0]
    if not model.patches:
        return _cached(models, base_key, load_base)

    def load_patched() -> Any:
        base = _cached(models, base_key, load_base)
        with BUILD_LOCK:
            network = copy.deepcopy(base)
            for patch in model.patches:
                lora.apply_to_diffusion_model(network, family, patch)
            return network

    return _cached(models, model.key, load_patched)


def load_text_stack(clip: TextEncoder, models: sdk.ModelProvider) -> Any:
    """The warm text encoder stack of ``clip`` (LoRA patches applied)."""
    family = get_family(clip.family)
    device, dtype = pick_device()

    def load() -> Any:
        with BUILD_LOCK:
            stack = family.load_text_encoders(clip, device, dtype)
            for patch in clip.patches:
                lora.apply_to_text_encoders(stack, family, patch)
            return stack

    return _cached(models, clip.key, load)


def load_vae_network(vae: VAEModel, models: sdk.ModelProvider) -> Any:
    """The warm autoencoder of ``vae``."""
    family = get_family(vae.family)
    device, dtype = pick_device()

    def load() -> Any:
        with BUILD_LOCK:
            network = family.load_vae(vae.source, device, dtype)
            return place(network, device, dtype)

    return _cached(models, vae.key, load)


def _cached(models: sdk.ModelProvider, key: str, load: Any) -> Any:
    return models.cached(key, load)


class Denoiser:
    """``denoiser(x, sigma, conds)`` -> predicted clean latent; ``sampling``/``latent_format``/``device``/``dtype``
    tell the sampler the schedule, the latent space and where tensors should live."""

    def __init__(
        self,
        model: DiffusionModel,
        family: Family,
        network: Any,
        device: str,
        dtype: torch.dtype,
        models: sdk.ModelProvider | None = None,
    ):
        self.model = model
        self.models = models  # resolves the ControlNets conditioning entries refer to
        self.family = family
        self.network = network
        self.sampling: ModelSampling = model.sampling
        self.latent_format: LatentFormat = model.latent_format
        self.device = device
        self.dtype = dtype
        channels = self.latent_format.channels
        wanted = getattr(getattr(network, "config", None), "in_channels", channels)
        if isinstance(wanted, int):
            wanted //= family.input_packing  # Flux's input features are 2x2 latent pixels
        # Inpainting UNets take [noisy latent, mask (1), masked image latent (channels)] (ComfyUI's c_concat).
        self.concat_channels = int(wanted if isinstance(wanted, int) else channels) - channels

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, conds: Sequence[Cond]) -> torch.Tensor:
        import torch

        if x.shape[1] != self.latent_format.channels:
            raise DiffusionError(
                f"latent has {x.shape[1]} channels but a {self.model.family} model works on "
                f"{self.latent_format.channels}: the latent comes from another model family"
            )
        if not conds:
            raise DiffusionError("conditioning is empty")
        x = x.to(self.device, torch.float32)
        sigma = sigma.to(self.device, torch.float32).reshape(-1)
        if sigma.numel() == 1 and x.shape[0] > 1:
            sigma = sigma.expand(x.shape[0])
        sigma_b = sigma.reshape(-1, 1, 1, 1)
        active = self._active(conds, float(sigma.max()))
        x_in = self.sampling.model_input(sigma_b, x).to(self.dtype)
        timestep = self.sampling.timestep(sigma).to(
            self.dtype if self.dtype != torch.float16 else torch.float32
        )
        total: torch.Tensor | None = None
        weights: torch.Tensor | None = None
        with torch.inference_mode():
            for cond in active:
                self._check_reference_latents(cond)
                if cond.get("unclip_conditioning"):
                    label = self.family.display_name or self.family.name
                    clip_vision.check_unclip(self.family.name, label, self.model.source, cond)
                tensors = self._tensors(cond, x.shape[0])
                model_in = x_in
                if self.concat_channels:
                    extra = self.family.concat_input(tensors, x_in, self.concat_channels)
                    if extra is None:
                        extra = self._inpaint_concat(tensors, x_in)
                    model_in = torch.cat([x_in, extra.to(x_in.dtype)], dim=1)
                network = self.network
                if tensors.get("control"):
                    network = controlnet.controlled(self, network, tensors["control"], float(sigma.max()))
                output = self.family.predict(network, model_in, timestep, tensors).float()
                weight = torch.full_like(output[:, :1], float(cond.get("strength", 1.0)))
                mask = cond.get("mask")
                if mask is not None:
                    weight = weight * self._mask(np.asarray(mask), output)
                total = output * weight if total is None else total + output * weight
                weights = weight if weights is None else weights + weight
        assert total is not None and weights is not None
        output = total / weights.clamp(min=1e-8)
        return self.sampling.denoised(sigma_b, output, x)

    def _check_reference_latents(self, cond: Cond) -> None:
        """Reference latents (ReferenceLatent) reach only a family that reads them; never silently ignored."""
        if len(cond.get("reference_latents") or ()) and not self.family.reference_latents:
            raise DiffusionError(
                f"conditioning: reference latents (ReferenceLatent) are for edit models such as Flux Kontext; "
                f"this {self.family.display_name or self.family.name} model ({self.model.source}) does not use "
                "them: remove the ReferenceLatent node"
            )

    def _inpaint_concat(self, cond: dict[str, Any], x: torch.Tensor) -> torch.Tensor:
        """The extra input channels of an inpainting model: the mask (1 = regenerate) and the masked image's
        latent in denoiser space; without a mask, all of it regenerates (a full mask, a grey image)."""
        import torch

        channels = self.latent_format.channels
        if self.concat_channels == channels:
            return self._image_concat(cond, x)
        if self.concat_channels != 1 + channels:
            raise DiffusionError(
                f"{self.model.source}: the model takes {channels + self.concat_channels} input channels, "
                f"{self.concat_channels} beyond the {channels}-channel latent; only inpainting models "
                f"(a mask and a masked image latent: {1 + channels} extra channels) and instruct-pix2pix "
                f"models (an image latent: {channels}) are supported"
            )
        batch, _, height, width = x.shape
        mask, image = cond.get("concat_mask"), cond.get("concat_latent_image")
        if mask is None:
            if image is not None:
                raise DiffusionError(
                    "conditioning: concat_latent_image without concat_mask; an inpainting model needs both "
                    "(use InpaintModelConditioning)"
                )
            grey = _GREY_LATENT.get(self.model.family, (0.0,) * channels)
            blank = torch.tensor(grey, device=x.device, dtype=x.dtype).reshape(1, channels, 1, 1)
            ones = torch.ones(batch, 1, height, width, device=x.device, dtype=x.dtype)
            return torch.cat([ones, blank.expand(batch, -1, height, width)], dim=1)
        if image is None:
            raise DiffusionError(
                f"{self.model.source} is an inpainting model and the mask came without the masked image's "
                "latent: encode the image with VAEEncodeForInpaint or InpaintModelConditioning"
            )
        mask_t = torch.as_tensor(mask).to(x.device, torch.float32)
        mask_t = mask_t.reshape(-1, 1, *mask_t.shape[-2:])
        mask_t = torch.nn.functional.interpolate(mask_t, size=(height, width), mode="bilinear").round()
        image_t = torch.as_tensor(image).to(x.device, torch.float32)
        if image_t.ndim != 4 or image_t.shape[1] != channels:
            raise DiffusionError(
                f"the inpainting image latent has shape {tuple(image_t.shape)} but this {self.model.family} "
                f"model works on {channels}-channel latents: encode the image with this model's VAE"
            )
        if image_t.shape[-2:] != (height, width):
            image_t = torch.nn.functional.interpolate(image_t, size=(height, width), mode="bilinear")
        image_t = self.latent_format.process_in(image_t)
        parts = [_to_batch(mask_t, batch), _to_batch(image_t, batch)]
        return torch.cat(parts, dim=1).to(x.dtype)

    def _image_concat(self, cond: dict[str, Any], x: torch.Tensor) -> torch.Tensor:
        """The extra input channels of an instruct-pix2pix model: the image latent alone (InstructPixToPix-
        Conditioning's ``concat_latent_image``) in denoiser space; without one, a zero latent; a mask is not an input
        of these models and is ignored, as ComfyUI does."""
        import torch

        channels = self.latent_format.channels
        batch, _, height, width = x.shape
        image = cond.get("concat_latent_image")
        if image is None:
            return torch.zeros(batch, channels, height, width, device=x.device, dtype=x.dtype)
        image_t = torch.as_tensor(image).to(x.device, torch.float32)
        if image_t.ndim != 4 or image_t.shape[1] != channels:
            raise DiffusionError(
                f"the conditioning's image latent has shape {tuple(image_t.shape)} but this {self.model.family} "
                f"model works on {channels}-channel latents: encode the image with this model's VAE"
            )
        if image_t.shape[-2:] != (height, width):
            image_t = torch.nn.functional.interpolate(image_t, size=(height, width), mode="bilinear")
        return _to_batch(self.latent_format.process_in(image_t), batch).to(x.dtype)

    def _active(self, conds: Sequence[Cond], sigma: float) -> list[Cond]:
        active = []
        for cond in conds:
            start = self.sampling.percent_to_sigma(float(cond.get("start_percent", 0.0)))
            end = self.sampling.percent_to_sigma(float(cond.get("end_percent", 1.0)))
            if end <= sigma <= start:
                active.append(cond)
        return active or list(conds)

    def _tensors(self, cond: Cond, batch: int) -> dict[str, Any]:
        import torch

        out: dict[str, Any] = {}
        for name, value in cond.items():
            if isinstance(value, np.ndarray) and name != "mask":
                tensor = torch.from_numpy(np.ascontiguousarray(value)).to(self.device, self.dtype)
                if tensor.shape[0] != batch:
                    tensor = tensor[:1].expand(batch, *tensor.shape[1:])
                out[name] = tensor
            else:
                out[name] = value
        return out

    def _mask(self, mask: np.ndarray, like: torch.Tensor) -> torch.Tensor:
        import torch

        tensor = torch.from_numpy(np.asarray(mask, dtype=np.float32)).to(like.device)
        if tensor.ndim == 2:
            tensor = tensor[None]
        tensor = tensor[:, None] if tensor.ndim == 3 else tensor
        tensor = torch.nn.functional.interpolate(tensor, size=like.shape[-2:], mode="bilinear")
        if tensor.shape[0] != like.shape[0]:
            tensor = tensor[:1].expand(like.shape[0], -1, -1, -1)
        return tensor


# The SD VAE's latent of a uniform mid-grey image, in denoiser space: what an inpainting UNet sees as the
# "masked image" where everything is masked (its training masked pixels to grey).
_GREY_LATENT: dict[str, tuple[float, ...]] = {
    "sd1": (0.8223, -0.6876, 0.6364, 0.1380),
    "sd2": (0.8223, -0.6876, 0.6364, 0.1380),
}


def _to_batch(tensor: torch.Tensor, batch: int) -> torch.Tensor:
    if tensor.shape[0] == batch:
        return tensor
    reps = -(-batch // tensor.shape[0])
    return tensor.repeat(reps, *([1] * (tensor.ndim - 1)))[:batch]


def inpaint_conds(
    denoiser: Any, latent: dict[str, Any], positive: list[Cond], negative: list[Cond] | None
) -> tuple[list[Cond], list[Cond] | None]:
    """The conditionings with a LATENT's inpainting data for an inpainting model: its ``noise_mask`` and the
    masked image's latent (``concat_latent`` from VAEEncodeForInpaint, else the samples, as ComfyUI does) as
    ``concat_mask``/``concat_latent_image``, on entries that have none yet (InpaintModelConditioning's keep
    theirs). Unchanged for a model without extra input channels or a latent without a noise mask."""
    noise_mask = latent.get("noise_mask")
    if not getattr(denoiser, "concat_channels", 0) or noise_mask is None:
        return positive, negative
    mask = np.asarray(noise_mask, dtype=np.float32)
    mask = mask.reshape(-1, 1, *mask.shape[-2:])
    image = np.asarray(latent.get("concat_latent", latent["samples"]), dtype=np.float32)

    def add(conds: list[Cond]) -> list[Cond]:
        return [
            c if "concat_mask" in c else Cond(**c, concat_mask=mask, concat_latent_image=image) for c in conds
        ]

    return add(positive), None if negative is None else add(negative)


def prepare_denoiser(model: DiffusionModel, models: sdk.ModelProvider) -> Denoiser:
    """The warm network of ``model`` wrapped in the denoiser interface."""
    family = get_family(model.family)
    device, dtype = pick_device()
    network = load_diffusion_network(model, models)
    return Denoiser(model, family, network, device, dtype, models)


def encode_text(clip: TextEncoder, models: sdk.ModelProvider, text: str) -> Cond:
    """``text`` -> one conditioning entry with the family's text encoders."""
    family = get_family(clip.family)
    stack = load_text_stack(clip, models)
    return family.encode_text(stack, text, clip.layer)


def _check_latent(vae: VAEModel, samples: np.ndarray) -> None:
    if samples.ndim != 4:
        raise DiffusionError(f"samples: a latent batch has 4 dimensions, this one has shape {samples.shape}")
    if samples.shape[1] != vae.latent_format.channels:
        raise DiffusionError(
            f"samples: the latent has {samples.shape[1]} channels but this {vae.family} VAE works on "
            f"{vae.latent_format.channels}: the latent comes from another model family"
        )


def vae_decode(
    vae: VAEModel, models: sdk.ModelProvider, samples: np.ndarray, tile: int | None = None, overlap: int = 0
) -> np.ndarray:
    """Latents (b, c, h, w) -> images (b, 8h, 8w, 3) float32 in [0, 1]; ``tile``/``overlap`` in latent pixels."""
    import torch

    _check_latent(vae, samples)
    network = load_vae_network(vae, models)
    device, dtype = pick_device()
    latent = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32)).to(device, dtype)

    def decode(z: torch.Tensor) -> torch.Tensor:
        images: torch.Tensor = network.decode(z).sample
        return images.float()

    with torch.inference_mode():
        images = []
        for index in range(latent.shape[0]):
            one = latent[index : index + 1]
            if tile and (one.shape[-1] > tile or one.shape[-2] > tile):
                images.append(_tiled(decode, one, tile, overlap))
            else:
                images.append(decode(one))
        image = torch.cat(images)
    image = ((image + 1.0) / 2.0).clamp(0, 1)
    return image.permute(0, 2, 3, 1).cpu().numpy().astype(np.float32)


def _tiled(decode: Any, latent: torch.Tensor, tile: int, overlap: int) -> torch.Tensor:
    """Decode ``latent`` tile by tile, blending overlaps with linear ramps."""
    import torch

    height, width = latent.shape[-2:]
    stride = max(1, tile - overlap)
    scale = None
    out = weight = None
    for top in _starts(height, tile, stride):
        for left in _starts(width, tile, stride):
            part = decode(latent[..., top : top + tile, left : left + tile])
            if scale is None:
                scale = part.shape[-1] // min(tile, width)
                out = torch.zeros(1, part.shape[1], height * scale, width * scale, device=part.device)
                weight = torch.zeros_like(out[:, :1])
            assert out is not None and weight is not None
            ramp = _ramp(part.shape[-2], part.shape[-1], overlap * scale, part.device)
            rows = slice(top * scale, top * scale + part.shape[-2])
            cols = slice(left * scale, left * scale + part.shape[-1])
            out[..., rows, cols] += part * ramp
            weight[..., rows, cols] += ramp
    assert out is not None and weight is not None
    return out / weight.clamp(min=1e-6)


def _starts(size: int, tile: int, stride: int) -> list[int]:
    if size <= tile:
        return [0]
    starts = list(range(0, size - tile, stride))
    return [*starts, size - tile]


def _ramp(height: int, width: int, overlap: int, device: Any) -> torch.Tensor:
    import torch

    def axis(n: int) -> torch.Tensor:
        values = torch.ones(n, device=device)
        if overlap > 0:
            edge = torch.linspace(0.05, 1.0, min(overlap, n // 2) or 1, device=device)
            values[: edge.shape[0]] = edge
            values[n - edge.shape[0] :] = edge.flip(0)
        return values

    return (axis(height)[:, None] * axis(width)[None, :])[None, None]


def vae_encode(vae: VAEModel, models: sdk.ModelProvider, pixels: np.ndarray) -> np.ndarray:
    """Images (b, h, w, 3) in [0, 1] (h, w multiples of 8) -> latents (b, c, h/8, w/8) float32 (the mode)."""
    import torch

    network = load_vae_network(vae, models)
    device, dtype = pick_device()
    image = torch.from_numpy(np.ascontiguousarray(pixels[..., :3], dtype=np.float32)).to(device)
    image = (image.permute(0, 3, 1, 2) * 2.0 - 1.0).to(dtype)
    with torch.inference_mode():
        latent = torch.cat(
            [network.encode(image[i : i + 1]).latent_dist.mode() for i in range(image.shape[0])]
        )
    return latent.float().cpu().numpy()
