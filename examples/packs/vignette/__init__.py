"""An example node pack: the worked example of docs/node-sdk.md."""

from __future__ import annotations

import numpy as np

from nodepacks import sdk


class Vignette(sdk.Node):
    """Darken the edges of an image, leaving the centre untouched."""

    id = "vignette.Vignette"
    display_name = "Vignette"
    category = "image/filter"

    class Inputs(sdk.Inputs):
        image: sdk.Image = sdk.link(tooltip="The image to darken")
        strength: float = sdk.number(
            0.5, min=0.0, max=1.0, step=0.05, slider=True, tooltip="0 = none, 1 = black"
        )
        radius: float = sdk.number(0.75, min=0.1, max=2.0, step=0.05, tooltip="Where darkening starts")
        shape: str = sdk.select(options=["circle", "ellipse"])

    class Outputs(sdk.Outputs):
        image: sdk.Image
        mask: sdk.Mask = sdk.output(tooltip="How much each pixel was kept (1 = untouched)")

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        batch, height, width, _ = inputs.image.shape
        half_h, half_w = height / 2, width / 2
        if inputs.shape == "circle":
            half_h = half_w = min(half_h, half_w)
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        distance = np.hypot((ys - (height - 1) / 2) / half_h, (xs - (width - 1) / 2) / half_w)
        # Darkening ramps from nothing at `radius` to `strength` half a unit further out.
        falloff = np.clip((distance - inputs.radius) / 0.5, 0.0, 1.0)
        keep = (1.0 - inputs.strength * falloff).astype(np.float32)
        ctx.progress(1, 1)
        return self.Outputs(
            image=inputs.image * keep[None, :, :, None], mask=np.repeat(keep[None], batch, axis=0)
        )


pack = sdk.Pack(
    name="vignette",
    version="1.0.0",
    display_name="Vignette",
    description="Darken image edges.",
    nodes=[Vignette],
)
