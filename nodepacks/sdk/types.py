"""Value types: names, python annotations and the compatibility rule the editor and the engine share.

A type is written as a string: a name (``INT``, ``IMAGE``, ``MYPACK.LATENT``), a list (``LIST[IMAGE]``) or a
union (``INT|FLOAT``). ``ANY`` matches everything.
"""

from __future__ import annotations

import re
import types as pytypes
import typing
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Annotated, Any

import numpy as np

INT = "INT"
FLOAT = "FLOAT"
STRING = "STRING"
BOOLEAN = "BOOLEAN"
IMAGE = "IMAGE"
MASK = "MASK"
AUDIO = "AUDIO"
VIDEO = "VIDEO"
MESH = "MESH"
JSON = "JSON"
ANY_TYPE = "ANY"

BUILTIN_TYPES = (INT, FLOAT, STRING, BOOLEAN, IMAGE, MASK, AUDIO, VIDEO, MESH, JSON, ANY_TYPE)

_NAME = re.compile(r"^[A-Z][A-Z0-9_]*(\.[A-Z][A-Z0-9_]*)*$")


class TypeSpecError(ValueError):
    """A type string that does not parse."""


@dataclass(frozen=True)
class TypeTag:
    """Marks an ``Annotated`` python type with its Flowyard type name."""

    name: str


# Media values. Images follow ComfyUI's layout so node semantics carry over: float32 in [0, 1].
Image = Annotated[np.ndarray, TypeTag(IMAGE)]
"""A batch of RGB images: float32 array of shape (batch, height, width, 3), values in [0, 1]."""
Mask = Annotated[np.ndarray, TypeTag(MASK)]
"""A batch of masks: float32 array of shape (batch, height, width), values in [0, 1]."""
JSONValue = Annotated[Any, TypeTag(JSON)]
"""Any JSON-serialisable value."""
AnyValue = Annotated[Any, TypeTag(ANY_TYPE)]
"""Accepts a value of any type."""


@dataclass
class Audio:
    """Audio samples: float32 array of shape (channels, samples) and a sample rate in Hz."""

    samples: np.ndarray
    sample_rate: int


@dataclass
class Video:
    """Video frames: float32 array of shape (frames, height, width, 3) in [0, 1], optional audio."""

    frames: np.ndarray
    fps: float
    audio: Audio | None = None


@dataclass
class Mesh:
    """A triangle mesh: vertices (n, 3) float32, faces (m, 3) int32, optional per-vertex colours (n, 3)."""

    vertices: np.ndarray
    faces: np.ndarray
    colors: np.ndarray | None = field(default=None)


AudioValue = Annotated[Audio, TypeTag(AUDIO)]
VideoValue = Annotated[Video, TypeTag(VIDEO)]
MeshValue = Annotated[Mesh, TypeTag(MESH)]


def define_type(name: str, python_type: Any = Any) -> Any:
    """Return an annotation for a pack-defined type, e.g. ``Latent = define_type("MYPACK.LATENT", dict)``."""
    name = name.upper()
    if not _NAME.match(name) or name in BUILTIN_TYPES:
        raise TypeSpecError(f"invalid custom type name {name!r}: use NAME or PACK.NAME in capitals")
    return Annotated[python_type, TypeTag(name)]


_PRIMITIVES: dict[Any, str] = {bool: BOOLEAN, int: INT, float: FLOAT, str: STRING}


def type_of_annotation(annotation: Any) -> tuple[str, bool]:
    """Return (type string, optional) for a python annotation used in an Inputs/Outputs class."""
    optional = False
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is pytypes.UnionType:
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        optional = len(members) != len(typing.get_args(annotation))
        names = [type_of_annotation(member)[0] for member in members]
        return normalize("|".join(names)), optional
    if origin is Annotated:
        for meta in annotation.__metadata__:
            if isinstance(meta, TypeTag):
                return meta.name, False
        return type_of_annotation(typing.get_args(annotation)[0])
    if origin is list:
        (inner,) = typing.get_args(annotation) or (Any,)
        return f"LIST[{type_of_annotation(inner)[0]}]", False
    if annotation in _PRIMITIVES:
        return _PRIMITIVES[annotation], False
    if annotation in (dict, list, typing.Any):
        return (JSON if annotation is not typing.Any else ANY_TYPE), False
    for cls, name in ((Audio, AUDIO), (Video, VIDEO), (Mesh, MESH), (np.ndarray, IMAGE)):
        if annotation is cls:
            return name, False
    raise TypeSpecError(f"cannot map python annotation {annotation!r} to a Flowyard type")


@lru_cache(maxsize=4096)
def parse(spec: str) -> frozenset[str]:
    """Return the alternatives of a type string, each normalised (``LIST[X]`` kept as one alternative)."""
    alternatives: list[str] = []
    depth = 0
    start = 0
    text = spec.replace(" ", "")
    if not text:
        raise TypeSpecError("empty type")
    for i, char in enumerate(text):
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth < 0:
                raise TypeSpecError(f"unbalanced brackets in type {spec!r}")
        elif char == "|" and depth == 0:
            alternatives.append(text[start:i])
            start = i + 1
    if depth != 0:
        raise TypeSpecError(f"unbalanced brackets in type {spec!r}")
    alternatives.append(text[start:])
    result = set()
    for alt in alternatives:
        if alt.startswith("LIST[") and alt.endswith("]"):
            inner = normalize(alt[5:-1])
            result.add(f"LIST[{inner}]")
        elif _NAME.match(alt):
            result.add(alt)
        else:
            raise TypeSpecError(f"invalid type {alt!r} in {spec!r}")
    return frozenset(result)


def normalize(spec: str) -> str:
    """Return the canonical spelling of a type string (alternatives sorted)."""
    return "|".join(sorted(parse(spec)))


@lru_cache(maxsize=65536)
def is_compatible(output_type: str, input_type: str) -> bool:
    """True when a value of ``output_type`` may feed an input of ``input_type``.

    ANY on either side matches; unions match when some alternative of the output is accepted by the input
    (ComfyUI's rule, so that a node producing ``INT|FLOAT`` can feed a ``FLOAT`` input); lists match
    element-wise.
    """
    out_alts = parse(output_type)
    in_alts = parse(input_type)
    if ANY_TYPE in out_alts or ANY_TYPE in in_alts:
        return True
    for out_alt in out_alts:
        for in_alt in in_alts:
            if out_alt == in_alt:
                return True
            both_lists = out_alt.startswith("LIST[") and in_alt.startswith("LIST[")
            if both_lists and is_compatible(out_alt[5:-1], in_alt[5:-1]):
                return True
    return False
