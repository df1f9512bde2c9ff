"""PreviewAny: show any value as text in the editor (ComfyUI's comfy_extras/nodes_preview_any.py)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from nodepacks import sdk


def describe(value: Any) -> str:
    """Return ``value`` as ComfyUI's PreviewAny shows it: strings as is, numbers via str, others as JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return "None"
    if isinstance(value, bool | int | float):
        return str(value)
    if isinstance(value, np.ndarray):
        body = np.array2string(value, edgeitems=6, threshold=200)
        return f"array shape={tuple(value.shape)} dtype={value.dtype}\n{body}"
    try:
        return json.dumps(value, indent=4)
    except (TypeError, ValueError):
        return str(value)


class PreviewAny(sdk.Node):
    """Show any value as text on the node. Returns that text as STRING."""

    id = "PreviewAny"
    display_name = "Preview as Text"
    category = "io"
    output_node = True

    class Inputs(sdk.Inputs):
        source: sdk.AnyValue = sdk.link(tooltip="Any value: text, numbers, JSON, images (shown as arrays)")

    class Outputs(sdk.Outputs):
        string: str

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> sdk.Result:
        text = describe(inputs.source)
        return sdk.Result(outputs=self.Outputs(string=text), ui=sdk.UI(text=[text]))


NODES: list[type[sdk.Node]] = [PreviewAny]
