"""Node values as bytes and JSON for persistent storage: the shared cache and run outputs.

``encode_value`` turns a value into an ``EncodedValue``: ``data`` is JSON (small values inline, larger ones as
references to blobs by sha256) and ``blobs`` holds the bytes to store under those hashes. ``decode_value``
reverses it, fetching blobs through a callback. Arrays are ``.npy`` (dtype, byte order, shape and memory order
survive exactly); Audio, Video and Mesh are an ``.npz`` of their arrays plus inline metadata.

Only an allow-list of python types is encoded (JSON values, numpy arrays and scalars, bytes, the SDK's media
dataclasses, and lists, tuples and string-keyed dicts of these). Anything else raises ``Unencodable``: entries
are shared between users and workers, so nothing is ever pickled, and the caller simply does not persist the
value.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nodepacks.sdk import UI, MediaFile
from nodepacks.sdk.types import Audio, Mesh, Video
from workers.runtime.media import frame_to_png, image_frames

FORMAT_VERSION = 1
INLINE_JSON_BYTES = 16 * 1024
"""JSON larger than this (serialised) goes to a blob so index rows stay small."""
MAX_DEPTH = 32

ReadBlob = Callable[[str], bytes]


class Unencodable(ValueError):
    """The value holds something the codec does not store (arbitrary objects, object arrays, ...)."""


@dataclass(frozen=True)
class EncodedValue:
    """A value ready for storage: ``data`` is JSON referring to blobs by sha256; ``blobs`` maps sha -> bytes."""

    data: dict[str, Any]
    blobs: dict[str, bytes] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """Bytes this value takes in storage: its blobs plus its JSON."""
        return sum(len(b) for b in self.blobs.values()) + len(_dumps(self.data))


def sha256_hex(data: bytes) -> str:
    """Return the sha256 of ``data`` as 64 lowercase hex digits (the blob address)."""
    return hashlib.sha256(data).hexdigest()


def encode_value(type_name: str, value: Any) -> EncodedValue:
    """Encode ``value`` (declared as ``type_name``) for storage; raise ``Unencodable`` if it cannot be."""
    if _inline_scalar(value):  # most values of a chain of small nodes: no walk, no JSON to measure
        return EncodedValue({"k": "json", "v": value, "type": type_name})
    encoder = _Encoder()
    data = encoder.encode(value, 0)
    data["type"] = type_name
    return EncodedValue(data, encoder.blobs)


def decode_value(encoded: EncodedValue | Mapping[str, Any], read_blob: ReadBlob) -> Any:
    """Return the value ``encoded`` describes, reading its blobs with ``read_blob(sha) -> bytes``.

    Errors from ``read_blob`` (a missing blob) propagate to the caller.
    """
    data = encoded.data if isinstance(encoded, EncodedValue) else encoded
    return _decode(data, read_blob)


def encode_ui(ui: UI) -> EncodedValue:
    """Encode a node's UI: each image batch as lossless ``.npy`` plus one PNG per frame for serving; each
    encoded file (video, audio...) as a blob with its format and kind."""
    encoder = _Encoder()
    images = []
    for batch in ui.images:
        array = np.asarray(batch)
        entry = encoder.encode(array, 0)
        entry["png"] = [encoder.add_blob(png) for png in _pngs(array)]
        images.append(entry)
    text = [str(item) for item in ui.text]
    data = {
        "images": images,
        "text": text,
        "data": encoder.encode(dict(ui.data), 0),
        "saved": bool(ui.saved),
        "filename_prefix": str(ui.filename_prefix),
    }
    if ui.files:
        data["files"] = [
            {"sha": encoder.add_blob(file.data), "format": file.format, "kind": file.kind}
            for file in ui.files
        ]
    return EncodedValue(data, encoder.blobs)


def decode_ui(encoded: EncodedValue | Mapping[str, Any], read_blob: ReadBlob) -> UI:
    """Return the ``UI`` that ``encode_ui`` encoded."""
    data = encoded.data if isinstance(encoded, EncodedValue) else encoded
    return UI(
        images=[_decode(image, read_blob) for image in data["images"]],
        text=list(data["text"]),
        data=_decode(data["data"], read_blob),
        saved=bool(data["saved"]),
        filename_prefix=str(data["filename_prefix"]),
        files=[
            MediaFile(read_blob(file["sha"]), str(file["format"]), str(file["kind"]))
            for file in data.get("files", ())
        ],
    )


def ui_png_blobs(encoded_ui: Mapping[str, Any]) -> list[list[str]]:
    """Return the PNG blob hashes of an encoded UI: one list of frames per image batch."""
    return [list(image.get("png", ())) for image in encoded_ui.get("images", ())]


def _pngs(array: np.ndarray) -> list[bytes]:
    """PNG frames of an image batch, or none when the array is not image-shaped (the npy stays lossless)."""
    if array.dtype.kind not in "fiub" or array.ndim not in (2, 3, 4) or array.size == 0:
        return []
    frames = image_frames(array)
    if not all(frame.ndim == 2 or (frame.ndim == 3 and frame.shape[-1] in (3, 4)) for frame in frames):
        return []
    return [frame_to_png(frame) for frame in frames]


# One encoder for every call (``json.dumps`` with options builds a new one each time).
_JSON_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)

# Scalars that ``_Encoder.encode`` would store inline as {"k": "json"} whatever their value: an int of at most
# this many bits has at most 309 digits (far under INLINE_JSON_BYTES and Python's int-to-str digit limit); an
# ASCII str of at most this many characters serialises to at most 6 bytes a character ("\u001f") plus quotes.
_INLINE_INT_BITS = 1024
_INLINE_ASCII_CHARS = INLINE_JSON_BYTES // 6 - 1


def _inline_scalar(value: Any) -> bool:
    """True when ``value`` is a scalar that encodes to {"k": "json", "v": value} without measuring its JSON:
    None, a bool, a small int, a finite float or a short ASCII str (exact types, as ``_is_plain_json``)."""
    kind = type(value)
    if value is None or kind is bool:
        return True
    if kind is int:
        return bool(value.bit_length() <= _INLINE_INT_BITS)
    if kind is float:
        return math.isfinite(value)
    if kind is str:
        return bool(len(value) <= _INLINE_ASCII_CHARS and value.isascii())
    return False


def _dumps(data: Any) -> bytes:
    return _JSON_ENCODER.encode(data).encode()


def _is_plain_json(value: Any, depth: int = 0) -> bool:
    """True when ``value`` survives a JSON round trip unchanged, python types included."""
    if depth > MAX_DEPTH:
        return False
    kind = type(value)
    if value is None or kind is bool or kind is int or kind is str:
        return True
    if kind is float:
        return math.isfinite(value)
    if kind is list:
        return all(_is_plain_json(item, depth + 1) for item in value)
    if kind is dict:
        return all(type(k) is str and _is_plain_json(v, depth + 1) for k, v in value.items())
    return False


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    try:
        np.lib.format.write_array(buffer, array, allow_pickle=False)
    except ValueError as exc:
        raise Unencodable(f"cannot store array of dtype {array.dtype}: {exc}") from exc
    return buffer.getvalue()


def _npy_load(data: bytes) -> np.ndarray:
    return np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)


_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def _npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """An uncompressed ``.npz`` with fixed timestamps, so equal arrays give equal bytes (and one blob)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            if type(array) is not np.ndarray:
                raise Unencodable(f"{name} must be a numpy array, not {type(array).__name__}")
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
            archive.writestr(info, _npy_bytes(array))
    return buffer.getvalue()


def _npz_load(data: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


class _Encoder:
    """Walks a value, building its JSON description and collecting the blobs it refers to."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def add_blob(self, data: bytes) -> str:
        sha = sha256_hex(data)
        self.blobs[sha] = data
        return sha

    def encode(self, value: Any, depth: int) -> dict[str, Any]:
        if depth > MAX_DEPTH:
            raise Unencodable(f"value nested deeper than {MAX_DEPTH} levels")
        kind = type(value)
        if _is_plain_json(value, depth):
            text = _dumps(value)
            if len(text) > INLINE_JSON_BYTES:
                return {"k": "json_blob", "sha": self.add_blob(text)}
            return {"k": "json", "v": value}
        if kind is float:  # NaN and infinities are not JSON
            return {"k": "float", "v": repr(value)}
        if kind is np.ndarray:
            return {
                "k": "ndarray",
                "sha": self.add_blob(_npy_bytes(value)),
                "dtype": value.dtype.str,
                "shape": list(value.shape),
            }
        if isinstance(value, np.generic) and kind.__module__ == "numpy":
            npy = _npy_bytes(np.asarray(value))
            return {"k": "npscalar", "npy": base64.b64encode(npy).decode("ascii")}
        if kind is bytes:
            return {"k": "bytes", "sha": self.add_blob(value)}
        if kind is list or kind is tuple:
            return {"k": kind.__name__, "items": [self.encode(item, depth + 1) for item in value]}
        if kind is dict:
            items = []
            for key, item in value.items():
                if type(key) is not str:
                    raise Unencodable(f"dict key {key!r} is not a string")
                items.append([key, self.encode(item, depth + 1)])
            return {"k": "dict", "items": items}
        if kind is Audio:
            return {
                "k": "audio",
                "sha": self.add_blob(_npz_bytes({"samples": value.samples})),
                "sample_rate": self.encode(value.sample_rate, depth + 1),
            }
        if kind is Video:
            arrays = {"frames": value.frames}
            audio_meta = None
            if value.audio is not None:
                if type(value.audio) is not Audio:
                    raise Unencodable(f"video audio must be Audio, not {type(value.audio).__name__}")
                arrays["audio"] = value.audio.samples
                audio_meta = self.encode(value.audio.sample_rate, depth + 1)
            return {
                "k": "video",
                "sha": self.add_blob(_npz_bytes(arrays)),
                "fps": self.encode(value.fps, depth + 1),
                "audio_sample_rate": audio_meta,
            }
        if kind is Mesh:
            arrays = {"vertices": value.vertices, "faces": value.faces}
            if value.colors is not None:
                arrays["colors"] = value.colors
            return {"k": "mesh", "sha": self.add_blob(_npz_bytes(arrays))}
        raise Unencodable(f"cannot store a value of python type {kind.__module__}.{kind.__qualname__}")


def _decode(data: Mapping[str, Any], read_blob: ReadBlob) -> Any:
    kind = data["k"]
    if kind == "json":
        return data["v"]
    if kind == "json_blob":
        return json.loads(read_blob(data["sha"]))
    if kind == "float":
        return float(data["v"])
    if kind == "ndarray":
        return _npy_load(read_blob(data["sha"]))
    if kind == "npscalar":
        return _npy_load(base64.b64decode(data["npy"]))[()]
    if kind == "bytes":
        return read_blob(data["sha"])
    if kind == "list":
        return [_decode(item, read_blob) for item in data["items"]]
    if kind == "tuple":
        return tuple(_decode(item, read_blob) for item in data["items"])
    if kind == "dict":
        return {key: _decode(item, read_blob) for key, item in data["items"]}
    if kind == "audio":
        arrays = _npz_load(read_blob(data["sha"]))
        return Audio(samples=arrays["samples"], sample_rate=_decode(data["sample_rate"], read_blob))
    if kind == "video":
        arrays = _npz_load(read_blob(data["sha"]))
        audio = None
        if data["audio_sample_rate"] is not None:
            audio = Audio(samples=arrays["audio"], sample_rate=_decode(data["audio_sample_rate"], read_blob))
        return Video(frames=arrays["frames"], fps=_decode(data["fps"], read_blob), audio=audio)
    if kind == "mesh":
        arrays = _npz_load(read_blob(data["sha"]))
        return Mesh(vertices=arrays["vertices"], faces=arrays["faces"], colors=arrays.get("colors"))
    raise ValueError(f"unknown encoded value kind {kind!r}")
