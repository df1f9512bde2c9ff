"""Test doubles and small image builders shared by the core pack's tests."""

from __future__ import annotations

import hashlib
import io
from typing import BinaryIO

import numpy as np


class MemoryFiles:
    """A FileProvider serving uploads from a dict of name -> bytes."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self._files = files

    def open(self, ref: str) -> BinaryIO:
        if ref not in self._files:
            raise FileNotFoundError(ref)
        return io.BytesIO(self._files[ref])

    def sha256(self, ref: str) -> str:
        if ref not in self._files:
            raise FileNotFoundError(ref)
        return hashlib.sha256(self._files[ref]).hexdigest()


def solid(height: int, width: int, rgb: tuple[float, float, float], batch: int = 1) -> np.ndarray:
    """A (batch, height, width, 3) float32 image of one colour."""
    image = np.empty((batch, height, width, 3), dtype=np.float32)
    image[...] = rgb
    return image


def gradient(height: int, width: int, batch: int = 1) -> np.ndarray:
    """A deterministic image whose every pixel differs: red rises along x, green along y, blue is fixed."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    frame = np.stack([xs / max(width - 1, 1), ys / max(height - 1, 1), np.full_like(xs, 0.25)], axis=-1)
    return np.repeat(frame[None], batch, axis=0).astype(np.float32)
