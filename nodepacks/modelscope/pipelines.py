"""ModelScope pipelines this pack registers (importing it needs torch and modelscope's pipeline stack)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from modelscope.outputs import OutputKeys
from modelscope.pipelines.base import Pipeline
from modelscope.pipelines.builder import PIPELINES

from nodepacks.modelscope.architectures import PIXEL_TRANSFORM, TASK


@PIPELINES.register_module(TASK, module_name=PIXEL_TRANSFORM)
class PixelTransformPipeline(Pipeline):  # type: ignore[misc]  # modelscope ships no type information
    """Image in (PIL image or HxWx3 uint8 RGB array), ``{"output_img": HxWx3 uint8 BGR}`` out, as ModelScope's
    colour-enhancement pipelines do."""

    def preprocess(self, input: Any) -> dict[str, Any]:  # noqa: A002 (modelscope's name)
        pixels = np.asarray(input.convert("RGB") if hasattr(input, "convert") else input, dtype=np.float32)
        if pixels.max(initial=0.0) > 1.0:
            pixels = pixels / 255.0
        device = next(self.model.parameters()).device
        return {"src": torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)[None].to(device)}

    @torch.no_grad()
    def forward(self, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
        outputs: dict[str, Any] = self.model(input)
        return outputs

    def postprocess(self, inputs: dict[str, Any]) -> dict[str, Any]:
        rgb = (inputs["outputs"][0] * 255.0).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
        return {OutputKeys.OUTPUT_IMG: np.ascontiguousarray(rgb[:, :, ::-1])}
