"""ModelScope nodes: a generic pipeline node and a colour-enhancement model node.

Nodes ask ``ctx.models`` (the worker's model manager) for their model and never load one themselves. They
import torch and modelscope only when they execute, so listing the pack stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from nodepacks import sdk
from nodepacks.modelscope import convert

CATEGORY = "models/modelscope"
TASKS = [
    "image-classification",
    "image-color-enhancement",
    "image-denoising",
    "image-deblurring",
    "image-super-resolution",
    "image-colorization",
    "image-portrait-stylization",
    "image-inpainting",
    "image-segmentation",
    "image-object-detection",
    "image-depth-estimation",
    "image-captioning",
    "face-detection",
    "portrait-matting",
    "universal-matting",
    "ocr-recognition",
    "visual-question-answering",
    "text-to-image-synthesis",
    "text-classification",
    "sentence-similarity",
    "sentence-embedding",
    "zero-shot-classification",
    "named-entity-recognition",
    "word-segmentation",
    "fill-mask",
    "text-generation",
    "text-summarization",
    "translation",
    "auto-speech-recognition",
    "text-to-speech",
]
DEVICES = ["auto", "cpu", "gpu"]
COLOR_ENHANCE_TASK = "image-color-enhancement"
_REVISION_TOOLTIP = "A branch, tag or commit of the model repository"


def register_architectures(*, pipelines: bool = False) -> None:
    """Register this pack's model (and pipeline) classes with ModelScope so local models can name them."""
    importlib.import_module("nodepacks.modelscope.architectures")
    if pipelines:
        importlib.import_module("nodepacks.modelscope.pipelines")


def _device_options(device: str) -> dict[str, Any]:
    return {} if device == "auto" else {"device": device}


class ModelScopePipeline(sdk.Node):
    """Run any ModelScope pipeline on an image, a text or another value. Returns the result as JSON and, when
    the pipeline produces images, as IMAGE.

    The model comes from the worker's local model cache (by model id and revision). An image batch runs one
    pipeline call per image; the JSON result is then a list.
    """

    id = "modelscope.Pipeline"
    display_name = "ModelScope Pipeline"
    category = CATEGORY
    memory_mb = 1024  # activations of an arbitrary pipeline; the model itself is counted by the model manager

    class Inputs(sdk.Inputs):
        task: str = sdk.select(default="image-classification", options=TASKS, tooltip="The ModelScope task")
        model_id: str = sdk.text("", placeholder="owner/name", tooltip="ModelScope model id, e.g. damo/...")
        revision: str = sdk.text("master", tooltip=_REVISION_TOOLTIP)
        image: sdk.Image | None = sdk.link(
            optional=True, tooltip="Image input (given to the pipeline as PIL)"
        )
        text: str = sdk.text(
            "", multiline=True, optional=True, tooltip="Text input, used when no image is linked"
        )
        value: sdk.AnyValue = sdk.link(optional=True, tooltip="Any other input, passed to the pipeline as is")
        device: str = sdk.select(default="auto", options=DEVICES, tooltip="auto: the GPU when there is one")

    class Outputs(sdk.Outputs):
        result: sdk.JSONValue = sdk.output(tooltip="The pipeline's output as JSON (images summarised)")
        image: sdk.Image | None = sdk.output(tooltip="Images the pipeline produced, or nothing")

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> sdk.Result:
        if not inputs.model_id.strip():
            raise sdk.NodeError("choose a ModelScope model id (owner/name)")
        if inputs.image is not None:
            calls: list[Any] = convert.image_to_pil(inputs.image)
        elif inputs.value is not None:
            calls = [inputs.value]
        elif inputs.text:
            calls = [inputs.text]
        else:
            raise sdk.NodeError("link an image or a value, or type a text for the pipeline")
        register_architectures(pipelines=True)
        pipe = ctx.models.get(
            inputs.model_id.strip(),
            inputs.revision.strip() or None,
            task=inputs.task,
            **_device_options(inputs.device),
        )
        results = []
        frames: list[np.ndarray] = []
        for index, call in enumerate(calls):
            ctx.progress(index, len(calls))
            try:
                output = pipe(call)
            except Exception as exc:
                raise sdk.NodeError(f"{inputs.task} pipeline of {inputs.model_id} failed: {exc}") from exc
            results.append(convert.to_json(output))
            frames.extend(convert.images_in(output))
        ctx.progress(len(calls), len(calls))
        try:
            image = convert.stack_images(frames)
        except ValueError as exc:
            raise sdk.NodeError(str(exc)) from None
        result = results[0] if len(results) == 1 else results
        return sdk.Result(self.Outputs(result=result, image=image), sdk.UI(data={"result": result}))


class ColorEnhance(sdk.Node):
    """Enhance the colours of images with a ModelScope image-color-enhancement model. Returns IMAGE.

    Works with models called as ``model({"src": NCHW})`` -> ``{"outputs": NCHW}`` in [0, 1], as ModelScope's
    colour-enhancement models and this pack's ``flowyard-pixel-transform`` are.
    """

    id = "modelscope.ColorEnhance"
    display_name = "ModelScope Color Enhance"
    category = CATEGORY
    memory_mb = 512  # a few float copies of the image batch; the model is counted by the model manager

    class Inputs(sdk.Inputs):
        image: sdk.Image = sdk.link()
        model_id: str = sdk.select(
            default="damo/cv_csrnet_image-color-enhance-models",
            source=f"models.{COLOR_ENHANCE_TASK}",
            tooltip="A model from the worker's local model cache",
        )
        revision: str = sdk.text("master", tooltip=_REVISION_TOOLTIP)

    class Outputs(sdk.Outputs):
        image: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        import torch

        register_architectures()
        model = ctx.models.get(inputs.model_id, inputs.revision.strip() or None)
        parameter = next(iter(model.parameters()), None) if hasattr(model, "parameters") else None
        device = parameter.device if parameter is not None else torch.device("cpu")
        frames = []
        batch = inputs.image.shape[0]
        with torch.no_grad():
            for index in range(batch):
                ctx.progress(index, batch)
                src = torch.from_numpy(np.ascontiguousarray(inputs.image[index : index + 1]))
                output = model({"src": src.permute(0, 3, 1, 2).to(device)})
                if not isinstance(output, dict) or "outputs" not in output:
                    raise sdk.NodeError(
                        f"{inputs.model_id} is not a colour-enhancement model: it returned no 'outputs'"
                    )
                frames.append(output["outputs"].permute(0, 2, 3, 1).float().cpu().numpy())
        ctx.progress(batch, batch)
        return self.Outputs(image=np.clip(np.concatenate(frames), 0.0, 1.0).astype(np.float32))


NODES = [ModelScopePipeline, ColorEnhance]
