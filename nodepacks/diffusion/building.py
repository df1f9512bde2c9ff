"""Where and how a network is built: the device and dtype a run's networks use, and the lock every construction
holds.

Every module that builds a network (runtime.py's diffusion models, text encoders and VAEs, clip_vision.py,
controlnet.py, upscale.py) imports this module; it imports nothing of the pack, so none of them needs another
for it. Nothing here imports torch at module level.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import torch

BUILD_LOCK = threading.RLock()
"""Held while a network is constructed. diffusers (through accelerate's ``init_empty_weights``) builds models by
patching ``torch.nn.Module.register_parameter`` for the whole process, so a network another thread builds at the
same moment (a spandrel upscaler, a second UNet) would get parameters on the meta device. Never hold it while
waiting for the model manager: take it inside a load, around the construction only."""


def pick_device() -> tuple[str, torch.dtype]:
    """cuda with bf16 (fp16 where the card has no bf16) when a GPU is there, else cpu with fp32."""
    import torch

    if torch.cuda.is_available():
        return "cuda", torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return "cpu", torch.float32
