"""More of ComfyUI's latent nodes: empty video/Flux.2 latents, cutting, joining and batching latents, and tiled
VAE encoding.

Video latents are 5-D, ``(batch, channels, frames, height, width)``; image latents 4-D. ``dim`` names follow
ComfyUI: ``x`` is the last axis (width), ``y`` the one before (height), ``t`` the frames axis of a video latent.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nodepacks import sdk
from nodepacks.diffusion import runtime
from nodepacks.diffusion.handles import DiffusionError, Latent, Vae
from nodepacks.diffusion.nodes_latent import _crop_to_8

MAX_RESOLUTION = 16384
_AXIS = {"x": -1, "y": -2, "t": -3}


def _empty(shape: tuple[int, ...]) -> dict[str, Any]:
    return {"samples": np.zeros(shape, np.float32)}


def _video_frames(length: int) -> int:
    # these VAEs keep the first frame and compress every further four frames into one
    return (length - 1) // 4 + 1


class EmptyHunyuanLatentVideo(sdk.Node):
    """Empty 16-channel video latents (HunyuanVideo, Wan 2.1): 1/8 the size, (length - 1) / 4 + 1 frames.
    Returns LATENT."""

    id = "EmptyHunyuanLatentVideo"
    display_name = "Empty HunyuanVideo Latent"
    category = "latent/video"

    class Inputs(sdk.Inputs):
        width: int = sdk.number(848, min=16, max=MAX_RESOLUTION, step=16)
        height: int = sdk.number(480, min=16, max=MAX_RESOLUTION, step=16)
        length: int = sdk.number(25, min=1, max=MAX_RESOLUTION, step=4)
        batch_size: int = sdk.number(1, min=1, max=4096)

    class Outputs(sdk.Outputs):
        LATENT: Latent

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        shape = (inputs.batch_size, 16, _video_frames(inputs.length), inputs.height // 8, inputs.width // 8)
        return self.Outputs(LATENT=_empty(shape))


class EmptyHunyuanVideo15Latent(sdk.Node):
    """Empty 32-channel video latents (HunyuanVideo 1.5): 1/16 the size, (length - 1) / 4 + 1 frames.
    Returns LATENT."""

    id = "EmptyHunyuanVideo15Latent"
    display_name = "Empty HunyuanVideo 1.5 Latent"
    category = "latent/video"

    class Inputs(sdk.Inputs):
        width: int = sdk.number(848, min=16, max=MAX_RESOLUTION, step=16)
        height: int = sdk.number(480, min=16, max=MAX_RESOLUTION, step=16)
        length: int = sdk.number(25, min=1, max=MAX_RESOLUTION, step=4)
        batch_size: int = sdk.number(1, min=1, max=4096)

    class Outputs(sdk.Outputs):
        LATENT: Latent

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        shape = (inputs.batch_size, 32, _video_frames(inputs.length), inputs.height // 16, inputs.width // 16)
        return self.Outputs(LATENT=_empty(shape))


class EmptyFlux2LatentImage(sdk.Node):
    """Empty 128-channel Flux.2 latents at 1/16 the image size. Returns LATENT."""

    id = "EmptyFlux2LatentImage"
    display_name = "Empty Flux 2 Latent"
    category = "latent"

    class Inputs(sdk.Inputs):
        width: int = sdk.number(1024, min=16, max=MAX_RESOLUTION, step=16)
        height: int = sdk.number(1024, min=16, max=MAX_RESOLUTION, step=16)
        batch_size: int = sdk.number(1, min=1, max=4096)

    class Outputs(sdk.Outputs):
        LATENT: Latent

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        shape = (inputs.batch_size, 128, inputs.height // 16, inputs.width // 16)
        return self.Outputs(LATENT=_empty(shape))


def _samples(latent: Any, name: str) -> np.ndarray:
    samples = latent.get("samples") if isinstance(latent, dict) else None
    if not isinstance(samples, np.ndarray) or samples.ndim not in (3, 4, 5):
        raise DiffusionError(f"{name}: not a LATENT (a dict with a 'samples' array)")
    return samples


def _axis(samples: np.ndarray, dim: str, name: str) -> int:
    axis = _AXIS[dim]
    if dim == "t" and samples.ndim < 5:
        raise DiffusionError(f"{name}: dim t needs a video latent; this one has shape {samples.shape}")
    return axis


class LatentCut(sdk.Node):
    """``amount`` slices of the latent along x, y or t from ``index`` (negative counts from the end; both are
    clamped to the latent). Returns LATENT."""

    id = "LatentCut"
    display_name = "Latent Cut"
    category = "latent/advanced"

    class Inputs(sdk.Inputs):
        samples: Latent = sdk.link()
        dim: str = sdk.select(options=["x", "y", "t"])
        index: int = sdk.number(0, min=-MAX_RESOLUTION, max=MAX_RESOLUTION)
        amount: int = sdk.number(1, min=1, max=MAX_RESOLUTION)

    class Outputs(sdk.Outputs):
        LATENT: Latent

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        samples = _samples(inputs.samples, "samples")
        axis = _axis(samples, inputs.dim, "dim")
        size = samples.shape[axis]
        start = inputs.index + size if inputs.index < 0 else inputs.index
        start = max(0, min(start, size - 1))
        amount = min(inputs.amount, size - start)
        cut = np.take(samples, range(start, start + amount), axis=axis)
        return self.Outputs(LATENT={**inputs.samples, "samples": np.ascontiguousarray(cut)})


class LatentConcat(sdk.Node):
    """samples2 joined to samples1 along x, y or t (``-x``: samples2 first); batches are cycled to match.
    Returns LATENT."""

    id = "LatentConcat"
    display_name = "Latent Concat"
    category = "latent/advanced"

    class Inputs(sdk.Inputs):
        samples1: Latent = sdk.link()
        samples2: Latent = sdk.link()
        dim: str = sdk.select(options=["x", "-x", "y", "-y", "t", "-t"])

    class Outputs(sdk.Outputs):
        LATENT: Latent

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        first, second = _samples(inputs.samples1, "samples1"), _samples(inputs.samples2, "samples2")
        axis = _axis(first, inputs.dim.lstrip("-"), "dim")
        if first.ndim != second.ndim:
            raise DiffusionError(f"samples2: shape {second.shape} does not match samples1's {first.shape}")
        if second.shape[0] != first.shape[0]:
            second = np.resize(second, (first.shape[0], *second.shape[1:]))
        others = [i for i in range(1, first.ndim) if i != first.ndim + axis]
        if any(first.shape[i] != second.shape[i] for i in others):
            raise DiffusionError(
                f"samples2: shape {second.shape} differs from samples1's {first.shape} off the {inputs.dim} axis"
            )
        parts = [second, first] if inputs.dim.startswith("-") else [first, second]
        return self.Outputs(LATENT={**inputs.samples1, "samples": np.concatenate(parts, axis=axis)})


def _resize_latent(samples: np.ndarray, height: int, width: int) -> np.ndarray:
    import torch

    tensor = torch.from_numpy(np.ascontiguousarray(samples))
    if tensor.ndim == 5:  # frames along with channels, so one 2-D resize does every frame
        b, c, t = tensor.shape[:3]
        flat = tensor.reshape(b, c * t, *tensor.shape[3:])
        out = torch.nn.functional.interpolate(flat, size=(height, width), mode="bilinear")
        return out.reshape(b, c, t, height, width).numpy()
    return torch.nn.functional.interpolate(tensor, size=(height, width), mode="bilinear").numpy()


class LatentBatch(sdk.Node):
    """samples2's batch appended to samples1's, scaled (bilinear) to samples1's size. Returns LATENT."""

    id = "LatentBatch"
    display_name = "Latent Batch"
    category = "latent/batch"

    class Inputs(sdk.Inputs):
        samples1: Latent = sdk.link()
        samples2: Latent = sdk.link()

    class Outputs(sdk.Outputs):
        LATENT: Latent

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        first, second = _samples(inputs.samples1, "samples1"), _samples(inputs.samples2, "samples2")
        if first.shape[1:-2] != second.shape[1:-2]:
            raise DiffusionError(f"samples2: shape {second.shape} cannot batch with samples1's {first.shape}")
        if first.shape[-2:] != second.shape[-2:]:
            second = _resize_latent(second, *first.shape[-2:])
        index1 = inputs.samples1.get("batch_index") or list(range(first.shape[0]))
        index2 = inputs.samples2.get("batch_index") or list(range(second.shape[0]))
        start = max(index1) + 1
        latent = {
            **inputs.samples1,
            "samples": np.concatenate([first, second.astype(np.float32)]),
            "batch_index": [*index1, *(start + i - min(index2) for i in index2)],
        }
        latent.pop("noise_mask", None)
        return self.Outputs(LATENT=latent)


class LatentFromBatch(sdk.Node):
    """``length`` latents from ``batch_index`` on, with their noise masks. Returns LATENT."""

    id = "LatentFromBatch"
    display_name = "Latent From Batch"
    category = "latent/batch"

    class Inputs(sdk.Inputs):
        samples: Latent = sdk.link()
        batch_index: int = sdk.number(0, min=0, max=63)
        length: int = sdk.number(1, min=1, max=64)

    class Outputs(sdk.Outputs):
        LATENT: Latent

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        samples = _samples(inputs.samples, "samples")
        start = min(samples.shape[0] - 1, inputs.batch_index)
        stop = min(samples.shape[0], start + inputs.length)
        latent: dict[str, Any] = {**inputs.samples, "samples": np.array(samples[start:stop])}
        mask = inputs.samples.get("noise_mask")
        if isinstance(mask, np.ndarray):
            if mask.shape[0] == 1:
                latent["noise_mask"] = mask
            else:
                cycled = np.resize(mask, (samples.shape[0], *mask.shape[1:]))
                latent["noise_mask"] = np.array(cycled[start:stop])
        index = inputs.samples.get("batch_index") or list(range(samples.shape[0]))
        latent["batch_index"] = list(index[start:stop])
        return self.Outputs(LATENT=latent)


def _ramp(size: int, overlap: int, at_start: bool, at_end: bool) -> np.ndarray:
    weights = np.ones(size, np.float32)
    overlap = min(overlap, size // 2)
    if overlap > 0:
        edge = np.linspace(1.0 / (overlap + 1), 1.0, overlap, endpoint=False, dtype=np.float32)
        if not at_start:
            weights[:overlap] = edge
        if not at_end:
            weights[size - overlap :] = edge[::-1]
    return weights


def _starts(size: int, tile: int, stride: int) -> list[int]:
    if size <= tile:
        return [0]
    starts = list(range(0, size - tile, stride))
    return [*starts, size - tile]


def encode_tiled(encode: Any, pixels: np.ndarray, tile: int, overlap: int) -> np.ndarray:
    """Encode images (b, h, w, 3) tile by tile with ``encode`` (images -> latents), blending the overlaps with
    linear ramps in latent space. ``tile`` and ``overlap`` are in pixels, multiples of 8."""
    height, width = pixels.shape[1:3]
    stride = max(8, tile - overlap)
    out = weight = None
    scale = 8
    for top in _starts(height, tile, stride):
        for left in _starts(width, tile, stride):
            part = encode(pixels[:, top : top + tile, left : left + tile])
            if out is None:
                scale = min(tile, height) // part.shape[-2]
                out = np.zeros((part.shape[0], part.shape[1], height // scale, width // scale), np.float32)
                weight = np.zeros((1, 1, *out.shape[2:]), np.float32)
            assert weight is not None
            y, x = top // scale, left // scale
            lap = overlap // scale
            rows = _ramp(part.shape[-2], lap, top == 0, top + tile >= height)
            cols = _ramp(part.shape[-1], lap, left == 0, left + tile >= width)
            ramp = rows[:, None] * cols[None, :]
            out[..., y : y + part.shape[-2], x : x + part.shape[-1]] += part * ramp
            weight[..., y : y + part.shape[-2], x : x + part.shape[-1]] += ramp
    assert out is not None and weight is not None
    return out / np.maximum(weight, 1e-6)


class VAEEncodeTiled(sdk.Node):
    """Encode images into latents in overlapping tiles (less memory for big images). Returns LATENT.
    Video VAEs' temporal tiling is not supported: temporal_size and temporal_overlap are accepted for
    ComfyUI's workflows and unused by image VAEs."""

    id = "VAEEncodeTiled"
    display_name = "VAE Encode (Tiled)"
    category = "_for_testing"
    device = "gpu"

    class Inputs(sdk.Inputs):
        pixels: sdk.Image = sdk.link()
        vae: Vae = sdk.link()
        tile_size: int = sdk.number(512, min=64, max=4096, step=64)
        overlap: int = sdk.number(64, min=0, max=4096, step=32)
        temporal_size: int = sdk.number(64, min=8, max=4096, step=4)
        temporal_overlap: int = sdk.number(8, min=4, max=4096, step=4)

    class Outputs(sdk.Outputs):
        LATENT: Latent

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        pixels = _crop_to_8(np.asarray(inputs.pixels, dtype=np.float32))
        tile = max(64, inputs.tile_size - inputs.tile_size % 8)
        overlap = min(inputs.overlap - inputs.overlap % 8, tile // 4)
        latent = encode_tiled(
            lambda part: runtime.vae_encode(inputs.vae, ctx.models, part), pixels, tile, overlap
        )
        return self.Outputs(LATENT={"samples": latent})


NODES: list[type[sdk.Node]] = [
    EmptyHunyuanLatentVideo,
    EmptyHunyuanVideo15Latent,
    EmptyFlux2LatentImage,
    LatentCut,
    LatentConcat,
    LatentBatch,
    LatentFromBatch,
    VAEEncodeTiled,
]
