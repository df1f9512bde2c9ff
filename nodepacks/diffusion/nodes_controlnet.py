"""ControlNet nodes with ComfyUI's names, inputs and semantics: ControlNetLoader, ControlNetApplyAdvanced and the
old ControlNetApply. The apply nodes only attach the control to the conditioning (see ``controlnet``); the
ControlNet runs inside the sampler, on each step within its range."""

from __future__ import annotations

from typing import Any

from nodepacks import sdk
from nodepacks.diffusion import controlnet, library
from nodepacks.diffusion.controlnet import ControlNetType
from nodepacks.diffusion.handles import Conditioning, DiffusionError, Vae


class ControlNetLoader(sdk.Node):
    """Load a ControlNet (SD1.x, SD2.x or SDXL; single file or diffusers folder). Returns CONTROL_NET."""

    id = "ControlNetLoader"
    display_name = "Load ControlNet Model"
    category = "loaders"

    class Inputs(sdk.Inputs):
        control_net_name: str = sdk.model_file("controlnet")

    class Outputs(sdk.Outputs):
        CONTROL_NET: ControlNetType

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        path, sha256 = library.resolve(ctx.models, "controlnet", inputs.control_net_name, "control_net_name")
        try:
            net = controlnet.open_controlnet(path, sha256)
        except DiffusionError as exc:
            raise DiffusionError(f"control_net_name: {exc}") from None
        return self.Outputs(CONTROL_NET=net)


def _strength(default: float = 1.0) -> Any:
    return sdk.number(default, min=0.0, max=10.0, step=0.01)


def _percent(default: float) -> Any:
    return sdk.number(default, min=0.0, max=1.0, step=0.001)


class ControlNetApplyAdvanced(sdk.Node):
    """Guide the positive and negative conditioning with a ControlNet and a hint image (canny edges, depth,
    pose...) between two points of the run. Returns positive and negative."""

    id = "ControlNetApplyAdvanced"
    display_name = "Apply ControlNet"
    category = "conditioning/controlnet"

    class Inputs(sdk.Inputs):
        positive: Conditioning = sdk.link()
        negative: Conditioning = sdk.link()
        control_net: ControlNetType = sdk.link()
        image: sdk.Image = sdk.link()
        strength: float = _strength()
        start_percent: float = _percent(0.0)
        end_percent: float = _percent(1.0)
        vae: Vae | None = sdk.link(optional=True)

    class Outputs(sdk.Outputs):
        positive: Conditioning
        negative: Conditioning

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        if inputs.strength == 0:
            return self.Outputs(positive=inputs.positive, negative=inputs.negative)
        # The vae input matters only to ControlNets that take a latent hint (SD3/Flux), which are not loaded.
        hint = controlnet.hint_from_image(inputs.image)
        values = (inputs.control_net, hint, inputs.strength, inputs.start_percent, inputs.end_percent)
        return self.Outputs(
            positive=controlnet.attach(inputs.positive, *values, apply_to_uncond=False),
            negative=controlnet.attach(inputs.negative, *values, apply_to_uncond=False),
        )


class ControlNetApply(sdk.Node):
    """Guide a conditioning with a ControlNet and a hint image over the whole run; the control also steers the
    negative prompt (ComfyUI's deprecated "Apply ControlNet (OLD)"). Returns CONDITIONING."""

    id = "ControlNetApply"
    display_name = "Apply ControlNet (OLD)"
    category = "conditioning/controlnet"

    class Inputs(sdk.Inputs):
        conditioning: Conditioning = sdk.link()
        control_net: ControlNetType = sdk.link()
        image: sdk.Image = sdk.link()
        strength: float = _strength()

    class Outputs(sdk.Outputs):
        CONDITIONING: Conditioning

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        if inputs.strength == 0:
            return self.Outputs(CONDITIONING=inputs.conditioning)
        hint = controlnet.hint_from_image(inputs.image)
        conditioning = controlnet.attach(
            inputs.conditioning, inputs.control_net, hint, inputs.strength, 0.0, 1.0, apply_to_uncond=True
        )
        return self.Outputs(CONDITIONING=conditioning)


NODES = [ControlNetLoader, ControlNetApplyAdvanced, ControlNetApply]
