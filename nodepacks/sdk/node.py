"""The node declaration: typed inputs and outputs, metadata, and ``execute``.

One declaration drives runtime validation, the editor's widgets, the JSON schema served to clients and the
cache key. See docs/node-sdk.md for a worked example.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from nodepacks.sdk import types as t
from nodepacks.sdk.context import Context, FileProvider
from nodepacks.sdk.inputs import SPEC_KEY

# Namespaces may hold hyphens, since pack names do ("color-grade.Curves"); the last part is a plain name,
# or one of ComfyUI's legacy ids with inner spaces or a trailing "+" ("Video Slice", "ImageRemoveAlpha+").
_NODE_ID = re.compile(r"^(?:[A-Za-z][A-Za-z0-9_-]*\.)*[A-Za-z][A-Za-z0-9_]*(?: [A-Za-z0-9_]+)*\+?$")


class Inputs(BaseModel):
    """Base class of a node's inputs: one annotated field per input, in display order."""

    model_config = ConfigDict(
        arbitrary_types_allowed=True, extra="forbid", frozen=True, protected_namespaces=()
    )


class Outputs(BaseModel):
    """Base class of a node's outputs: one annotated field per output, in socket order."""

    model_config = ConfigDict(
        arbitrary_types_allowed=True, extra="forbid", frozen=True, protected_namespaces=()
    )


MEDIA_KINDS = ("video", "audio", "image", "file")


@dataclass(frozen=True)
class MediaFile:
    """An encoded file a node shows or saves (a video, audio, an animated image, a text file).

    ``format`` is the file extension (``mp4``, ``webm``, ``flac``, ``webp``, ``txt``...); ``kind`` says how
    clients show it: ``video`` and ``audio`` play, ``image`` is shown as a picture, ``file`` is downloaded.
    """

    data: bytes
    format: str
    kind: str = "file"

    def __post_init__(self) -> None:
        if self.kind not in MEDIA_KINDS:
            raise ValueError(f"MediaFile.kind must be one of {', '.join(MEDIA_KINDS)}, not {self.kind!r}")
        if not isinstance(self.data, bytes):
            raise TypeError("MediaFile.data must be bytes")


@dataclass
class UI:
    """What a node shows in the editor besides its outputs: image previews, text, small JSON data, and encoded
    files (``files``: videos and audio to play, animated images, text files).

    ``saved=True`` marks images and files as results to keep (SaveImage) rather than temporary previews.
    """

    images: Sequence[np.ndarray] = ()
    text: Sequence[str] = ()
    data: Mapping[str, Any] = field(default_factory=dict)
    saved: bool = False
    filename_prefix: str = "flowyard"
    files: Sequence[MediaFile] = ()

    def is_empty(self) -> bool:
        """True when there is nothing to show."""
        return not self.images and not self.text and not self.data and not self.files


@dataclass
class Result:
    """What ``execute`` returns when it has UI data to show: the outputs (or None) plus the UI."""

    outputs: Outputs | None = None
    ui: UI = field(default_factory=UI)


@dataclass(frozen=True)
class Retry:
    """A node's retry policy: up to ``attempts`` executions in all, retrying only the exception types in ``on``,
    waiting ``backoff_seconds`` before the first retry and doubling the wait each time after."""

    attempts: int = 3
    backoff_seconds: float = 1.0
    on: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("Retry.attempts must be at least 1")
        if self.backoff_seconds < 0:
            raise ValueError("Retry.backoff_seconds must not be negative")
        if not isinstance(self.on, tuple):
            object.__setattr__(self, "on", tuple(self.on) if isinstance(self.on, list | set) else (self.on,))

    def retries(self, error: BaseException) -> bool:
        """True when ``error`` is one the policy retries."""
        return isinstance(error, self.on)

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt number ``attempt`` (2, 3, ...)."""
        return float(self.backoff_seconds * (2 ** max(0, attempt - 2)))

    def to_json(self) -> dict[str, Any]:
        """The policy as served to clients."""
        return {
            "attempts": self.attempts,
            "backoff_seconds": self.backoff_seconds,
            "on": [error.__name__ for error in self.on],
        }


_MISSING: Any = object()


@dataclass(frozen=True)
class InputSpec:
    """One input as the engine and the editor see it."""

    name: str
    type: str
    required: bool
    mode: str  # widget | socket | both
    default: Any
    tooltip: str
    widget: dict[str, Any] | None
    adapter: TypeAdapter[Any] | None = field(compare=False, repr=False)

    @property
    def has_default(self) -> bool:
        """True when the input has a default value."""
        return self.default is not _MISSING

    @property
    def accepts_link(self) -> bool:
        """True when a link may feed this input."""
        return self.mode != "widget"

    @property
    def accepts_constant(self) -> bool:
        """True when a constant value may be set for this input."""
        return self.mode != "socket" or t.ANY_TYPE in t.parse(self.type) or t.JSON in t.parse(self.type)

    def check_constant(self, value: Any) -> tuple[Any, str | None]:
        """Return (value coerced to the input's type, None) or (None, reason the value is invalid)."""
        if not self.accepts_constant:
            return None, f"takes a link from an output of type {self.type}, not a constant value"
        if value is None and not self.required:
            return None, None
        coerced = value
        if self.adapter is not None:
            try:
                coerced = self.adapter.validate_python(value)
            except ValidationError as exc:
                return None, "; ".join(err["msg"] for err in exc.errors())
        options = (self.widget or {}).get("options")
        if options is not None and coerced not in options:
            shown = ", ".join(map(str, options[:10])) + (", ..." if len(options) > 10 else "")
            return None, f"{coerced!r} is not one of the options ({shown})"
        return coerced, None

    def to_json(self) -> dict[str, Any]:
        """The input as served to clients."""
        return {
            "name": self.name,
            "type": self.type,
            "required": self.required,
            "mode": self.mode,
            "default": _json_default(self.default) if self.has_default else None,
            "has_default": self.has_default,
            "tooltip": self.tooltip,
            "widget": self.widget,
        }


@dataclass(frozen=True)
class OutputSpec:
    """One output socket."""

    name: str
    type: str
    tooltip: str

    def to_json(self) -> dict[str, Any]:
        """The output as served to clients."""
        return {"name": self.name, "type": self.type, "tooltip": self.tooltip}


@dataclass(frozen=True)
class NodeSchema:
    """Everything declared about a node type."""

    id: str
    display_name: str
    category: str
    description: str
    version: str
    output_node: bool
    deprecated: str | None
    non_deterministic: bool
    requires_gpu: bool
    memory_mb: int
    inputs: tuple[InputSpec, ...]
    outputs: tuple[OutputSpec, ...]
    has_fingerprint: bool
    retry: Retry | None = None
    timeout_seconds: float | None = None
    device: str = "cpu"  # cpu | gpu (prefers a GPU, runs on a CPU slowly) | gpu-only

    def __post_init__(self) -> None:
        # ``requires_gpu`` is the older spelling of "gpu-only": keep the two in step whichever was given.
        if self.requires_gpu and self.device == "cpu":
            object.__setattr__(self, "device", "gpu-only")
        elif self.device == "gpu-only" and not self.requires_gpu:
            object.__setattr__(self, "requires_gpu", True)

    def input(self, name: str) -> InputSpec | None:
        """Return the input named ``name``, or None."""
        for spec in self.inputs:
            if spec.name == name:
                return spec
        return None

    def to_json(self) -> dict[str, Any]:
        """The node type as served to clients (editor, API, CLI)."""
        return {
            "type": self.id,
            "display_name": self.display_name,
            "category": self.category,
            "description": self.description,
            "version": self.version,
            "output_node": self.output_node,
            "deprecated": self.deprecated,
            "non_deterministic": self.non_deterministic,
            "requires_gpu": self.requires_gpu,
            "device": self.device,
            "memory_mb": self.memory_mb,
            "inputs": [spec.to_json() for spec in self.inputs],
            "outputs": [spec.to_json() for spec in self.outputs],
        }


class Node:
    """Base class of every node type. Subclasses set ``id`` and declare nested ``Inputs``/``Outputs``."""

    id: ClassVar[str] = ""
    display_name: ClassVar[str] = ""
    category: ClassVar[str] = "misc"
    description: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    output_node: ClassVar[bool] = False
    deprecated: ClassVar[str | None] = None
    non_deterministic: ClassVar[bool] = False
    # Where it runs: "cpu", "gpu" (prefers a GPU, can run on a CPU slowly) or "gpu-only"; ``requires_gpu = True``
    # is the older spelling of "gpu-only".
    device: ClassVar[str] = "cpu"
    requires_gpu: ClassVar[bool] = False
    memory_mb: ClassVar[int] = 0
    # Execution policy: retry transient failures; fail a node that runs longer than this (checked when the node
    # calls ctx.check_cancelled() or ctx.progress(): a node that never does cannot be interrupted).
    retry: ClassVar[Retry | None] = None
    timeout_seconds: ClassVar[float | None] = None

    Inputs: ClassVar[type[Inputs]] = Inputs
    Outputs: ClassVar[type[Outputs]] = Outputs

    _schema: ClassVar[NodeSchema | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._schema = None
        if cls.id:
            cls._schema = build_schema(cls)

    @classmethod
    def schema(cls) -> NodeSchema:
        """Return the node's schema (built once, when the class is defined)."""
        if cls._schema is None:
            raise TypeError(f"{cls.__name__} has no id: it is not a concrete node type")
        return cls._schema

    @classmethod
    def fingerprint(cls, inputs: Mapping[str, Any], files: FileProvider) -> str | None:
        """Return extra cache-key material for the given constant inputs (e.g. a file's hash), or None."""
        return None

    def execute(self, inputs: Any, ctx: Context) -> Any:
        """Compute the outputs: return ``self.Outputs(...)``, or ``Result(outputs, ui)`` to show UI data."""
        raise NotImplementedError


def _json_default(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_json_default(item) for item in value]
    if isinstance(value, dict):
        return {str(k): _json_default(v) for k, v in value.items()}
    return None


def _display_name(identifier: str) -> str:
    last = identifier.rsplit(".", 1)[-1]
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|_", " ", last).strip()


_WIDGET_FOR_TYPE: dict[str, dict[str, Any]] = {
    t.INT: {"kind": "number", "min": None, "max": None, "step": 1, "slider": False, "round": None},
    t.FLOAT: {"kind": "number", "min": None, "max": None, "step": None, "slider": False, "round": None},
    t.STRING: {"kind": "text", "multiline": False, "placeholder": ""},
    t.BOOLEAN: {"kind": "toggle", "label_on": "on", "label_off": "off"},
}


def _type_of_field(name: str, info: FieldInfo, explicit: str | None) -> tuple[str, bool]:
    if explicit:
        return t.normalize(explicit), False
    for meta in info.metadata:
        if isinstance(meta, t.TypeTag):
            return meta.name, False
    return t.type_of_annotation(info.annotation)


def _input_spec(node_id: str, name: str, info: FieldInfo) -> InputSpec:
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    spec: dict[str, Any] = dict(extra.get(SPEC_KEY) or {})  # type: ignore[arg-type]
    try:
        type_name, optional = _type_of_field(name, info, spec.get("type"))
    except t.TypeSpecError as exc:
        raise TypeError(f"node {node_id}: input {name!r}: {exc}") from None
    default = _MISSING if info.is_required() else info.get_default(call_default_factory=True)
    optional = optional or bool(spec.get("optional")) or (default is None)
    widget = spec.get("widget")
    if not spec:  # a bare annotation: infer a widget for primitive types, a socket otherwise
        widget = dict(_WIDGET_FOR_TYPE[type_name]) if type_name in _WIDGET_FOR_TYPE else None
    mode = spec.get("mode") or ("both" if widget else "socket")
    if widget and widget.get("kind") == "number":
        if type_name not in (t.INT, t.FLOAT):
            raise TypeError(
                f"node {node_id}: input {name!r}: a number widget needs an int or float annotation"
            )
        widget = dict(widget)
        if widget.get("step") is None:
            widget["step"] = 1 if type_name == t.INT else 0.01
    adapter: TypeAdapter[Any] | None = None
    if mode != "socket" or t.JSON in t.parse(type_name) or t.ANY_TYPE in t.parse(type_name):
        annotation: Any = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        adapter = TypeAdapter(annotation, config=ConfigDict(arbitrary_types_allowed=True))
    return InputSpec(
        name=name,
        type=type_name,
        required=not optional and default is _MISSING,
        mode=mode,
        default=default,
        tooltip=spec.get("tooltip") or info.description or "",
        widget=widget,
        adapter=adapter,
    )


def build_schema(cls: type[Node]) -> NodeSchema:
    """Read a node class's declaration into a ``NodeSchema``; raise TypeError when it is malformed."""
    node_id = cls.id
    if not _NODE_ID.match(node_id):
        raise TypeError(
            f"node id {node_id!r} must be letters, digits and underscores, dotted after a pack namespace"
        )
    if not (isinstance(cls.Inputs, type) and issubclass(cls.Inputs, Inputs)):
        raise TypeError(f"node {node_id}: Inputs must subclass nodepacks.sdk.Inputs")
    if not (isinstance(cls.Outputs, type) and issubclass(cls.Outputs, Outputs)):
        raise TypeError(f"node {node_id}: Outputs must subclass nodepacks.sdk.Outputs")
    if cls.execute is Node.execute:
        raise TypeError(f"node {node_id}: execute() is not implemented")
    inputs = tuple(_input_spec(node_id, name, info) for name, info in cls.Inputs.model_fields.items())
    outputs = []
    for name, info in cls.Outputs.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        spec: dict[str, Any] = dict(extra.get(SPEC_KEY) or {})  # type: ignore[arg-type]
        try:
            type_name, _ = _type_of_field(name, info, spec.get("type"))
        except t.TypeSpecError as exc:
            raise TypeError(f"node {node_id}: output {name!r}: {exc}") from None
        outputs.append(OutputSpec(name=name, type=type_name, tooltip=spec.get("tooltip") or ""))
    description = cls.description or " ".join((cls.__doc__ or "").split())
    return NodeSchema(
        id=node_id,
        display_name=cls.display_name or _display_name(node_id),
        category=cls.category,
        description=description,
        version=str(cls.version),
        output_node=cls.output_node,
        deprecated=cls.deprecated,
        non_deterministic=cls.non_deterministic,
        requires_gpu=cls.requires_gpu,
        memory_mb=cls.memory_mb,
        inputs=inputs,
        outputs=tuple(outputs),
        has_fingerprint=cls.fingerprint.__func__ is not Node.fingerprint.__func__,  # type: ignore[attr-defined]
        retry=_retry_of(node_id, cls.retry),
        timeout_seconds=_timeout_of(node_id, cls.timeout_seconds),
        device=_device_of(node_id, cls.device, cls.requires_gpu),
    )


def _retry_of(node_id: str, retry: Any) -> Retry | None:
    if retry is None or isinstance(retry, Retry):
        return retry
    raise TypeError(f"node {node_id}: retry must be an sdk.Retry(...) or None")


DEVICES = ("cpu", "gpu", "gpu-only")


def _device_of(node_id: str, device: Any, requires_gpu: bool) -> str:
    if device not in DEVICES:
        raise TypeError(f"node {node_id}: device must be one of {', '.join(DEVICES)}, not {device!r}")
    if requires_gpu and device == "gpu":
        raise TypeError(f'node {node_id}: requires_gpu = True means device = "gpu-only", not "gpu"')
    return "gpu-only" if requires_gpu else str(device)


def _timeout_of(node_id: str, timeout: Any) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise TypeError(f"node {node_id}: timeout_seconds must be a positive number or None")
    return float(timeout)
