"""Super-resolution models through spandrel."""

from __future__ import annotations

from typing import Any

import numpy as np

from nodepacks import sdk
from nodepacks.diffusion.building import BUILD_LOCK, pick_device
from nodepacks.diffusion.handles import DiffusionError, UpscaleModel
from nodepacks.diffusion.weights import load_tensors


def load_descriptor(path: str, input_name: str) -> Any:
    """spandrel's ImageModelDescriptor for a weights file, or a ``DiffusionError`` naming the input."""
    import spandrel

    state = load_tensors(path)
    try:
        with BUILD_LOCK:  # not while diffusers builds a network on the meta device in another thread
            descriptor = spandrel.ModelLoader().load_from_state_dict(state)
    except Exception as exc:  # spandrel raises UnsupportedModelError and architecture-specific errors
        raise DiffusionError(f"{input_name}: not an upscale model spandrel knows ({exc})") from None
    if not isinstance(descriptor, spandrel.ImageModelDescriptor):
        raise DiffusionError(f"{input_name}: {descriptor.architecture.name} is not an image upscale model")
    return descriptor.eval()


def upscale(model: UpscaleModel, models: sdk.ModelProvider, image: np.ndarray) -> np.ndarray:
    """Images (b, h, w, 3) in [0, 1] -> (b, h*scale, w*scale, 3)."""
    import torch

    device, _ = pick_device()
    descriptor = models.cached(model.key, lambda: load_descriptor(model.path, "upscale_model"))
    descriptor.to(device)
    tensor = torch.from_numpy(np.ascontiguousarray(image[..., :3], dtype=np.float32)).permute(0, 3, 1, 2)
    with torch.inference_mode():
        out = torch.cat([descriptor(tensor[i : i + 1].to(device)).float() for i in range(tensor.shape[0])])
    return out.clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy().astype(np.float32)
