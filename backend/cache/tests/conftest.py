"""Cache test fixtures: a local blob store per test and entries with every kind of value."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from backend.cache.stores import DatabaseCacheStore
from backend.storage.blobs import LocalBlobStore
from nodepacks.sdk import UI
from workers.engine.cache import CacheEntry


def make_key(name: str) -> str:
    """A cache key (64 hex digits) derived from a readable name."""
    return hashlib.sha256(name.encode()).hexdigest()


def image_entry(seed: int = 0, size: int = 8) -> CacheEntry:
    """An entry with an IMAGE, a MASK, a STRING and a JSON output, plus a UI with a preview and text."""
    rng = np.random.default_rng(seed)
    image = rng.random((1, size, size, 3), dtype=np.float32)
    mask = rng.random((1, size, size), dtype=np.float32)
    ui = UI(images=[image], text=[f"seed {seed}"], data={"seed": seed})
    outputs = (image, mask, f"text {seed}", {"seed": seed, "tags": ["a", "b"]})
    return CacheEntry(outputs, ("IMAGE", "MASK", "STRING", "JSON"), ui, "test.Render", image.nbytes * 2)


@pytest.fixture
def blob_store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs", fsync=False)


@pytest.fixture
def store(blob_store: LocalBlobStore) -> DatabaseCacheStore:
    return DatabaseCacheStore(blob_store)


# The S3 fixtures (a real moto server process) are shared with the storage tests.
from backend.storage.tests.conftest import moto_endpoint, s3_store  # noqa: E402, F401
