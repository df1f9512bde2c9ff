"""The pack host's wire format: one message per SOCK_SEQPACKET packet, arrays in a sealed memfd.

A message is a JSON object. Values inside it are encoded like ``workers.runtime.codecs`` does for storage
(the same allow-list of kinds: JSON, non-finite floats, numpy arrays and scalars, bytes, lists, tuples,
string-keyed dicts, the SDK's Audio/Video/Mesh; nothing is ever pickled), except that array and bytes data
does not go through JSON: small buffers ride base64 inline, larger ones are written once into a single
``memfd`` per message at 64-byte aligned offsets. The sender seals the memfd (no write, grow or shrink) and
passes its descriptor with the packet (SCM_RIGHTS); the receiver checks the seals and maps it privately, so
its arrays are views of the mapping (no copy) that the sender can no longer change, and that the receiver
may modify copy-on-write. A JSON body larger than a packet goes into the memfd too.

Standard library and numpy only: this module runs inside pack environments.
"""

from __future__ import annotations

import base64
import fcntl
import json
import math
import mmap
import os
import socket
from collections.abc import Callable
from typing import Any

import numpy as np

MAX_PACKET = 60 * 1024
"""Largest JSON body sent inline in a packet; larger bodies go into the memfd."""
INLINE_BYTES = 8 * 1024
"""Arrays and bytes up to this size ride base64 inside the JSON; larger ones go into the memfd."""
MAX_DEPTH = 32
MAX_FDS = 4
_ALIGN = 64
_SEALS = fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE
_DTYPE_KINDS = "biufcmMSU"  # no object, void/structured dtypes: those could hide python objects


class ProtocolError(Exception):
    """A message that breaks the protocol (truncated, unsealed buffer, unknown kind...)."""


class Unencodable(ValueError):
    """A value of a type that does not cross the process boundary."""


class PeerClosed(EOFError):
    """The other side closed the connection (usually: the process exited)."""


# Media types come from the SDK; loaded lazily so the framing works without it (tests, the server side).
_media: tuple[type, type, type] | None = None


def _media_types() -> tuple[type, type, type]:
    global _media
    if _media is None:
        from nodepacks.sdk.types import Audio, Mesh, Video

        _media = (Audio, Video, Mesh)
    return _media


def _is_plain_json(value: Any, depth: int = 0) -> bool:
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


class Encoder:
    """Encodes values into JSON descriptions plus the buffers to place in the message's memfd."""

    __slots__ = ("buffers", "size")

    def __init__(self) -> None:
        self.buffers: list[tuple[int, memoryview]] = []
        self.size = 0

    def add_buffer(self, data: memoryview) -> int:
        offset = (self.size + _ALIGN - 1) // _ALIGN * _ALIGN
        self.buffers.append((offset, data))
        self.size = offset + data.nbytes
        return offset

    def array(self, value: np.ndarray) -> dict[str, Any]:
        if value.dtype.kind not in _DTYPE_KINDS or value.dtype.fields is not None:
            raise Unencodable(f"arrays of dtype {value.dtype} do not cross the pack boundary")
        order = "C"
        if not value.flags.c_contiguous:
            if value.flags.f_contiguous:
                order, value = "F", value.T  # the transpose of a Fortran array is C-contiguous
            else:
                value = np.ascontiguousarray(value)
        shape = list(value.shape)
        data = memoryview(value.reshape(-1).view(np.uint8).data) if value.size else memoryview(b"")
        entry: dict[str, Any] = {"k": "ndarray", "dtype": value.dtype.str, "shape": shape, "order": order}
        if data.nbytes <= INLINE_BYTES:
            entry["b64"] = base64.b64encode(data).decode("ascii")
        else:
            entry["off"] = self.add_buffer(data)
            entry["n"] = data.nbytes
        return entry

    def encode(self, value: Any, depth: int = 0) -> dict[str, Any]:
        if depth > MAX_DEPTH:
            raise Unencodable(f"value nested deeper than {MAX_DEPTH} levels")
        kind = type(value)
        if _is_plain_json(value, depth):
            return {"k": "json", "v": value}
        if kind is float:
            return {"k": "float", "v": repr(value)}
        if kind is np.ndarray:
            return self.array(value)
        if isinstance(value, np.generic) and kind.__module__ == "numpy":
            return {"k": "npscalar", "v": self.array(np.asarray(value))}
        if kind is bytes:
            if len(value) <= INLINE_BYTES:
                return {"k": "bytes", "b64": base64.b64encode(value).decode("ascii")}
            return {"k": "bytes", "off": self.add_buffer(memoryview(value)), "n": len(value)}
        if kind is list or kind is tuple:
            return {"k": kind.__name__, "items": [self.encode(item, depth + 1) for item in value]}
        if kind is dict:
            items = []
            for key, item in value.items():
                if type(key) is not str:
                    raise Unencodable(f"dict key {key!r} is not a string")
                items.append([key, self.encode(item, depth + 1)])
            return {"k": "dict", "items": items}
        audio_t, video_t, mesh_t = _media_types()
        if kind is audio_t:
            return {
                "k": "audio",
                "samples": self.encode(value.samples, depth + 1),
                "sample_rate": self.encode(value.sample_rate, depth + 1),
            }
        if kind is video_t:
            return {
                "k": "video",
                "frames": self.encode(value.frames, depth + 1),
                "fps": self.encode(value.fps, depth + 1),
                "audio": self.encode(value.audio, depth + 1),
            }
        if kind is mesh_t:
            return {
                "k": "mesh",
                "vertices": self.encode(value.vertices, depth + 1),
                "faces": self.encode(value.faces, depth + 1),
                "colors": self.encode(value.colors, depth + 1),
            }
        raise Unencodable(
            f"a value of python type {kind.__module__}.{kind.__qualname__} cannot cross the boundary"
        )


class Decoder:
    """Decodes JSON descriptions; array data comes from the message's mapped memfd."""

    __slots__ = ("buffer",)

    def __init__(self, buffer: mmap.mmap | None) -> None:
        self.buffer = buffer

    def _region(self, data: dict[str, Any]) -> tuple[int, int]:
        offset, size = int(data["off"]), int(data["n"])
        if self.buffer is None or offset < 0 or size < 0 or offset + size > len(self.buffer):
            raise ProtocolError("a buffer reference points outside the message's memory")
        return offset, size

    def array(self, data: dict[str, Any]) -> np.ndarray:
        dtype = np.dtype(data["dtype"])
        if dtype.kind not in _DTYPE_KINDS or dtype.fields is not None:
            raise ProtocolError(f"arrays of dtype {dtype} are not accepted")
        shape = tuple(int(n) for n in data["shape"])
        count = math.prod(shape)
        if "b64" in data:
            raw = bytearray(base64.b64decode(data["b64"]))
            array = np.frombuffer(raw, dtype=dtype, count=count) if count else np.empty(0, dtype)
        else:
            offset, size = self._region(data)
            if size != count * dtype.itemsize:
                raise ProtocolError("an array's buffer size does not match its shape")
            array = np.frombuffer(self.buffer, dtype=dtype, count=count, offset=offset)  # type: ignore[arg-type]
        array = array.reshape(shape)
        return array.T if data.get("order") == "F" else array

    def decode(self, data: dict[str, Any], depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise ProtocolError("value nested too deeply")
        kind = data["k"]
        if kind == "json":
            return data["v"]
        if kind == "float":
            return float(data["v"])
        if kind == "ndarray":
            return self.array(data)
        if kind == "npscalar":
            return self.array(data["v"])[()]
        if kind == "bytes":
            if "b64" in data:
                return base64.b64decode(data["b64"])
            offset, size = self._region(data)
            assert self.buffer is not None
            return self.buffer[offset : offset + size]
        if kind == "list":
            return [self.decode(item, depth + 1) for item in data["items"]]
        if kind == "tuple":
            return tuple(self.decode(item, depth + 1) for item in data["items"])
        if kind == "dict":
            return {str(key): self.decode(item, depth + 1) for key, item in data["items"]}
        audio_t, video_t, mesh_t = _media_types()
        if kind == "audio":
            return audio_t(
                samples=self.decode(data["samples"], depth + 1),
                sample_rate=self.decode(data["sample_rate"], depth + 1),
            )
        if kind == "video":
            return video_t(
                frames=self.decode(data["frames"], depth + 1),
                fps=self.decode(data["fps"], depth + 1),
                audio=self.decode(data["audio"], depth + 1),
            )
        if kind == "mesh":
            return mesh_t(
                vertices=self.decode(data["vertices"], depth + 1),
                faces=self.decode(data["faces"], depth + 1),
                colors=self.decode(data["colors"], depth + 1),
            )
        raise ProtocolError(f"unknown value kind {kind!r}")


def _dumps(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def _write_all(fd: int, data: memoryview, offset: int) -> None:
    while data.nbytes:
        written = os.pwrite(fd, data, offset)
        data, offset = data[written:], offset + written


def send(sock: socket.socket, message: dict[str, Any], encoder: Encoder | None = None) -> None:
    """Send ``message`` (JSON; values already encoded with ``encoder``, whose buffers go into a memfd)."""
    body = _dumps(message)
    if encoder is None and len(body) <= MAX_PACKET:
        sock.sendmsg([body])
        return
    encoder = encoder or Encoder()
    if len(body) > MAX_PACKET:
        offset = encoder.add_buffer(memoryview(body))
        body = _dumps({"$json": [offset, len(body)]})
    if not encoder.buffers:
        sock.sendmsg([body])
        return
    fd = os.memfd_create("flowyard-msg", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        os.ftruncate(fd, max(encoder.size, 1))
        for offset, data in encoder.buffers:
            _write_all(fd, data, offset)
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, _SEALS | fcntl.F_SEAL_SEAL)
        sock.sendmsg([body], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, np.array([fd], np.int32).tobytes())])
    finally:
        os.close(fd)


def _map_sealed(fd: int) -> mmap.mmap:
    try:
        seals = fcntl.fcntl(fd, fcntl.F_GET_SEALS)
    except OSError:
        raise ProtocolError("a message buffer is not a memfd") from None
    if seals & _SEALS != _SEALS:
        raise ProtocolError("a message buffer is not sealed against writes")
    size = os.fstat(fd).st_size
    return mmap.mmap(fd, size, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ | mmap.PROT_WRITE)


def recv(sock: socket.socket) -> tuple[dict[str, Any], Decoder]:
    """Receive one message: (JSON object, decoder for the values it holds). Raise ``PeerClosed`` at EOF."""
    body, ancdata, flags, _ = sock.recvmsg(MAX_PACKET + 1024, socket.CMSG_SPACE(MAX_FDS * 4))
    fds: list[int] = []
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.extend(np.frombuffer(data[: len(data) - len(data) % 4], np.int32).tolist())
    try:
        if not body and not fds:
            raise PeerClosed("the peer closed the connection")
        if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC) or len(fds) > 1:
            raise ProtocolError("a packet was truncated or carried unexpected descriptors")
        buffer = _map_sealed(fds[0]) if fds else None
    finally:
        for fd in fds:
            os.close(fd)
    decoder = Decoder(buffer)
    try:
        message = json.loads(body)
        if isinstance(message, dict) and "$json" in message:
            offset, size = decoder._region({"off": message["$json"][0], "n": message["$json"][1]})
            assert buffer is not None
            message = json.loads(buffer[offset : offset + size])
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise ProtocolError(f"a message is not valid JSON: {exc}") from None
    if not isinstance(message, dict):
        raise ProtocolError("a message is not a JSON object")
    return message, decoder


Send = Callable[[dict[str, Any], "Encoder | None"], None]
