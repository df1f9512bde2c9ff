"""Model architectures this pack registers with ModelScope's ``MODELS`` registry (importing it needs torch).

``PixelTransform`` is a learned per-pixel colour transform (a colour grade distilled into 1x1 convolutions),
registered for the ``image-color-enhancement`` task as ``flowyard-pixel-transform``. It follows the calling
convention of ModelScope's own colour-enhancement models: ``model({"src": NCHW in [0, 1]})`` returns
``{"outputs": NCHW in [0, 1]}``.
"""

from __future__ import annotations

import json
import os.path as osp
from pathlib import Path
from typing import Any

import torch
from modelscope.models.base import TorchModel
from modelscope.models.builder import MODELS
from modelscope.utils.constant import ModelFile, Tasks

PIXEL_TRANSFORM = "flowyard-pixel-transform"
TASK = Tasks.image_color_enhancement


def pixel_transform_net(hidden: int) -> torch.nn.Sequential:
    """The network inside ``PixelTransform``: 1x1 conv, ReLU, 1x1 conv."""
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, hidden, kernel_size=1), torch.nn.ReLU(), torch.nn.Conv2d(hidden, 3, kernel_size=1)
    )


@MODELS.register_module(TASK, module_name=PIXEL_TRANSFORM)
class PixelTransform(TorchModel):  # type: ignore[misc]  # modelscope ships no type information
    """A per-pixel colour transform loaded from ``pytorch_model.bin`` in its model directory."""

    def __init__(self, model_dir: str, *args: Any, hidden: int = 8, **kwargs: Any) -> None:
        super().__init__(model_dir, *args, **kwargs)
        self.net = pixel_transform_net(int(hidden))
        weights = osp.join(model_dir, ModelFile.TORCH_MODEL_BIN_FILE)
        self.net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        self.eval()

    def forward(self, input: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:  # noqa: A002 (modelscope's name)
        """``{"src": NCHW}`` -> ``{"outputs": NCHW}``, clamped to [0, 1]."""
        return {"outputs": self.net(input["src"]).clamp(0, 1)}


def save_pixel_transform(directory: Path, net: torch.nn.Sequential) -> Path:
    """Write ``net`` as a ModelScope model directory (``configuration.json`` + ``pytorch_model.bin``)."""
    directory.mkdir(parents=True, exist_ok=True)
    hidden = net[0].out_channels
    configuration = {
        "framework": "pytorch",
        "task": TASK,
        "model": {"type": PIXEL_TRANSFORM, "hidden": hidden},
        "pipeline": {"type": PIXEL_TRANSFORM},
    }
    (directory / ModelFile.CONFIGURATION).write_text(json.dumps(configuration, indent=2))
    torch.save(net.state_dict(), directory / ModelFile.TORCH_MODEL_BIN_FILE)
    return directory
