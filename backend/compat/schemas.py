"""Our node schemas in ComfyUI's ``/object_info`` shape, and the positional widgets of ComfyUI's UI format.

Types: ``ANY`` is ComfyUI's ``*``, a union ``A|B`` its ``A,B``; a select is a combo (a list of options; upload
selects list the workspace's uploads, with ``image_upload``), a seed is an INT with ``control_after_generate``.
Inputs with a default are ComfyUI's required widgets; optional ones go under ``optional``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from nodepacks.sdk import InputSpec, NodeSchema
from workers.engine.registry import NodeEntry

OptionsFor = Callable[[str], Collection[str] | None]
WIDGET_TYPES = ("INT", "FLOAT", "STRING", "BOOLEAN")


def comfy_type(type_name: str) -> str:
    """A Flowyard type string as ComfyUI writes it."""
    parts = [part.strip() for part in type_name.split("|")]
    converted = []
    for part in parts:
        if part == "ANY":
            return "*"
        if part.startswith("LIST[") and part.endswith("]"):
            part = comfy_type(part[5:-1])
        converted.append(part)
    return ",".join(converted)


def is_widget(spec: InputSpec) -> bool:
    """True when ComfyUI's UI format stores a value for this input in ``widgets_values``."""
    return spec.widget is not None and spec.mode != "socket"


def is_seed_like(spec: InputSpec) -> bool:
    """True when ComfyUI's editor adds a control_after_generate value after this widget."""
    widget = spec.widget or {}
    return spec.type == "INT" and (widget.get("kind") == "seed" or spec.name in ("seed", "noise_seed"))


def input_config(spec: InputSpec, options_for: OptionsFor | None = None) -> list[Any]:
    """``[TYPE or [options], {default, min, max, step, ...}]`` for one input."""
    widget = spec.widget or {}
    kind = widget.get("kind")
    extra: dict[str, Any] = {}
    if spec.has_default and spec.default is not None:
        extra["default"] = spec.default
    if spec.tooltip:
        extra["tooltip"] = spec.tooltip
    if spec.mode == "socket" and spec.type in WIDGET_TYPES:
        extra["forceInput"] = True
    if kind in ("select", "upload"):
        options = widget.get("options")
        source = widget.get("source")
        if options is None:
            found = options_for(source) if (options_for and source) else None
            options = sorted(found) if found is not None else []
        if source in ("uploads.video", "uploads.audio"):
            extra[f"{source.removeprefix('uploads.')}_upload"] = True  # ComfyUI's LoadVideo/LoadAudio pickers
        elif kind == "upload" or (source or "").startswith("uploads.image"):
            extra["image_upload"] = True
        return [list(options), extra]
    if kind in ("number", "seed"):
        for name in ("min", "max", "step", "round"):
            if widget.get(name) is not None:
                extra[name] = widget[name]
        if widget.get("slider"):
            extra["display"] = "slider"
        if kind == "seed":
            extra["control_after_generate"] = True
    elif kind == "text":
        extra["multiline"] = bool(widget.get("multiline"))
        if widget.get("placeholder"):
            extra["placeholder"] = widget["placeholder"]
    elif kind == "toggle":
        extra["label_on"] = widget.get("label_on", "on")
        extra["label_off"] = widget.get("label_off", "off")
    return [comfy_type(spec.type), extra]


def _required(spec: InputSpec) -> bool:
    # ComfyUI's widgets are required inputs that have a default; ours are "not required" because of that default.
    return spec.required or (spec.has_default and spec.default is not None)


def object_info(entry: NodeEntry, options_for: OptionsFor | None = None) -> dict[str, Any]:
    """One node type as ComfyUI's ``/object_info`` describes it."""
    schema: NodeSchema = entry.schema
    required: dict[str, Any] = {}
    optional: dict[str, Any] = {}
    for spec in schema.inputs:
        (required if _required(spec) else optional)[spec.name] = input_config(spec, options_for)
    outputs = schema.outputs
    return {
        "input": {"required": required, "optional": optional, "hidden": {}},
        "input_order": {"required": list(required), "optional": list(optional)},
        "output": [comfy_type(output.type) for output in outputs],
        "output_is_list": [output.type.startswith("LIST[") for output in outputs],
        "output_name": [output.name for output in outputs],
        "output_tooltips": [output.tooltip for output in outputs],
        "name": schema.id,
        "display_name": schema.display_name,
        "description": schema.description,
        "python_module": f"flowyard.{entry.pack.name}",
        "category": schema.category,
        "output_node": schema.output_node,
        "deprecated": bool(schema.deprecated),
        "experimental": False,
        "api_node": False,
    }


def widget_inputs(schema: NodeSchema) -> list[InputSpec]:
    """The inputs ComfyUI's UI format lists in ``widgets_values``, in order (required, then optional)."""
    widgets = [spec for spec in schema.inputs if is_widget(spec)]
    return [spec for spec in widgets if _required(spec)] + [spec for spec in widgets if not _required(spec)]
