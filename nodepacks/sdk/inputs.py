"""Input and output declarations: one call per input gives its widget, socket mode, bounds and tooltip.

Each helper returns a pydantic ``Field`` so that ``Inputs`` classes stay plain, type-checked pydantic models::

    class Inputs(sdk.Inputs):
        image: sdk.Image = sdk.link(tooltip="What to blur")
        radius: int = sdk.number(3, min=1, max=31)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import Field
from pydantic_core import PydanticUndefined

Mode = Literal["widget", "socket", "both"]
SeedControl = Literal["randomize", "increment", "decrement", "fixed"]

SPEC_KEY = "flowyard"
SEED_MAX = 2**53 - 1  # the largest integer a browser holds exactly


def _field(default: Any, *, spec: dict[str, Any], **constraints: Any) -> Any:
    if default is PydanticUndefined and spec.get("optional"):
        default = None
    return Field(default=default, json_schema_extra={SPEC_KEY: spec}, **constraints)


def link(*, optional: bool = False, tooltip: str = "", type: str | None = None) -> Any:
    """A socket that only takes a link from another node's output."""
    spec = {"mode": "socket", "widget": None, "tooltip": tooltip, "optional": optional, "type": type}
    return _field(PydanticUndefined, spec=spec)


def number(
    default: float | None = None,
    *,
    min: float | None = None,
    max: float | None = None,
    step: float | None = None,
    slider: bool = False,
    round: float | None = None,
    tooltip: str = "",
    optional: bool = False,
    mode: Mode = "both",
) -> Any:
    """An INT or FLOAT widget with bounds; ``slider`` shows a slider instead of a box."""
    widget = {"kind": "number", "min": min, "max": max, "step": step, "slider": slider, "round": round}
    spec = {"mode": mode, "widget": widget, "tooltip": tooltip, "optional": optional, "type": None}
    return _field(PydanticUndefined if default is None else default, spec=spec, ge=min, le=max)


def seed(
    default: int = 0, *, control: SeedControl = "randomize", tooltip: str = "", mode: Mode = "both"
) -> Any:
    """A seed: an INT widget the editor changes after each run (randomize, increment, decrement, fixed)."""
    widget = {"kind": "seed", "min": 0, "max": SEED_MAX, "control_after_run": control}
    spec = {
        "mode": mode,
        "widget": widget,
        "tooltip": tooltip or "Random seed",
        "optional": False,
        "type": None,
    }
    return _field(default, spec=spec, ge=0, le=SEED_MAX)


def select(
    default: str | None = None,
    *,
    options: Sequence[str] | None = None,
    source: str | None = None,
    tooltip: str = "",
    optional: bool = False,
    mode: Mode = "both",
    shows: Mapping[str, Sequence[str]] | None = None,
) -> Any:
    """A drop-down list: static ``options``, or ``source`` naming options the server supplies at run time.

    Sources: ``uploads.image``, ``uploads.file``, ``models.<task>``. ``shows`` maps an option to the inputs that
    belong to it (ComfyUI's dynamic combo: a workflow file stores only the chosen option's values after it).
    """
    if options is None and source is None:
        raise ValueError("select() needs options or a source")
    options = list(options) if options is not None else None
    if default is None and options:
        default = options[0]
    widget: dict[str, Any] = {"kind": "select", "options": options, "source": source}
    if shows is not None:
        widget["shows"] = {str(option): list(names) for option, names in shows.items()}
    spec = {"mode": mode, "widget": widget, "tooltip": tooltip, "optional": optional, "type": None}
    return _field(PydanticUndefined if default is None else default, spec=spec)


MODEL_FILE_SOURCE = "modelfiles."
"""``select(source="modelfiles.<kind>")``: a file of the model library folder ``kind`` (ComfyUI's layout)."""


def model_file(kind: str, *, default: str | None = None, tooltip: str = "", optional: bool = False) -> Any:
    """A picker of files in the model library folder ``kind`` (``checkpoints``, ``loras``, ``vae``, ``clip``,
    ``unet``/``diffusion_models``, ``upscale_models``...). The value is the file's name relative to that folder,
    as ComfyUI writes it; the engine folds the file's content hash, not its name, into cache keys."""
    return select(
        default if default is not None else "",
        source=f"{MODEL_FILE_SOURCE}{kind}",
        tooltip=tooltip,
        optional=optional,
    )


def text(
    default: str | None = "",
    *,
    multiline: bool = False,
    placeholder: str = "",
    tooltip: str = "",
    optional: bool = False,
    mode: Mode = "both",
) -> Any:
    """A single- or multi-line text box."""
    widget = {"kind": "text", "multiline": multiline, "placeholder": placeholder}
    spec = {"mode": mode, "widget": widget, "tooltip": tooltip, "optional": optional, "type": None}
    return _field(PydanticUndefined if default is None else default, spec=spec)


def toggle(
    default: bool = False,
    *,
    label_on: str = "on",
    label_off: str = "off",
    tooltip: str = "",
    mode: Mode = "both",
) -> Any:
    """A boolean switch."""
    widget = {"kind": "toggle", "label_on": label_on, "label_off": label_off}
    spec = {"mode": mode, "widget": widget, "tooltip": tooltip, "optional": False, "type": None}
    return _field(default, spec=spec)


def color(default: str = "#000000", *, tooltip: str = "", mode: Mode = "both") -> Any:
    """A colour picker; the value is ``#rrggbb``."""
    widget = {"kind": "color"}
    spec = {"mode": mode, "widget": widget, "tooltip": tooltip, "optional": False, "type": None}
    return _field(default, spec=spec, pattern=r"^#[0-9a-fA-F]{6}$")


def upload(
    *, accept: Literal["image", "video", "audio", "file"] = "image", tooltip: str = "", optional: bool = False
) -> Any:
    """A file chooser with upload: the value names an uploaded file the caller may read (of the ``accept``
    kind: ``file`` is any upload)."""
    widget = {"kind": "upload", "accept": accept, "source": f"uploads.{accept}"}
    spec = {"mode": "widget", "widget": widget, "tooltip": tooltip, "optional": optional, "type": None}
    return _field(PydanticUndefined, spec=spec)


def output(*, tooltip: str = "", type: str | None = None) -> Any:
    """Describe an output (only needed for a tooltip or an explicit type)."""
    return Field(default=None, json_schema_extra={SPEC_KEY: {"tooltip": tooltip, "type": type}})
