"""End to end: one worker runs a graph; another worker re-runs it entirely from the shared cache."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from backend.cache.models import CacheRecord
from backend.cache.stores import DatabaseCacheStore, TieredCacheStore
from backend.storage.blobs import LocalBlobStore
from workers.engine import Engine, MemoryCache, default_registry, parse_graph

pytestmark = pytest.mark.django_db

# A chain (each node has one ready successor) so the engine runs every node on this thread and its connection.
GRAPH: dict[str, Any] = {
    "nodes": {
        "1": {
            "type": "EmptyImage",
            "inputs": {"width": 16, "height": 12, "batch_size": 2, "color": 0x336699},
        },
        "2": {"type": "ImageInvert", "inputs": {"image": ["1", 0]}},
        "3": {"type": "ImageToMask", "inputs": {"image": ["2", 0], "channel": "red"}},
        "4": {"type": "InvertMask", "inputs": {"mask": ["3", 0]}},
        "5": {"type": "MaskToImage", "inputs": {"mask": ["4", 0]}},
        "6": {"type": "PreviewImage", "inputs": {"images": ["5", 0]}},
    }
}


def worker(blob_store: LocalBlobStore, *, tiered: bool = False) -> Engine:
    """An engine as a separate worker process would build it: its own registry use and cache objects."""
    registry = default_registry()
    shared = DatabaseCacheStore(blob_store, registry=registry)
    cache = TieredCacheStore(MemoryCache(), shared) if tiered else shared
    return Engine(registry, cache=cache, parallelism=1)


@pytest.mark.parametrize("tiered", [False, True])
def test_second_worker_runs_the_graph_from_the_shared_cache(blob_store: LocalBlobStore, tiered: bool) -> None:
    first = worker(blob_store, tiered=tiered).run(parse_graph(GRAPH))
    assert first.status == "succeeded", first.errors or first.failed
    assert len(first.executed) == 6
    assert CacheRecord.objects.count() == 6
    assert CacheRecord.objects.filter(pack_name="core").count() == 6

    second = worker(blob_store, tiered=tiered).run(parse_graph(GRAPH))
    assert second.status == "succeeded"
    assert second.executed == []
    assert second.cached == ["6"]  # planning stops at the cached target: its ancestors are not even loaded
    np.testing.assert_array_equal(second.outputs["6"][0], first.outputs["6"][0])
    assert second.ui["6"].images and first.ui["6"].images
    np.testing.assert_array_equal(second.ui["6"].images[0], first.ui["6"].images[0])
    assert CacheRecord.objects.get(hit_count__gt=0).node_type == "PreviewImage"


def test_a_worker_recomputes_when_the_shared_blobs_are_gone(blob_store: LocalBlobStore) -> None:
    worker(blob_store).run(parse_graph(GRAPH))
    for sha in list(blob_store.iter_shas()):
        blob_store.delete(sha)
    again = worker(blob_store).run(parse_graph(GRAPH))
    assert again.status == "succeeded"
    assert len(again.executed) == 6
    third = worker(blob_store).run(parse_graph(GRAPH))
    assert third.executed == [] and third.cached == ["6"]
