"""The shared cache on an S3 blob store (a real moto server): round trip and eviction."""

from __future__ import annotations

import numpy as np
import pytest

from backend.cache.eviction import evict_cache
from backend.cache.models import CacheRecord
from backend.cache.stores import DatabaseCacheStore
from backend.cache.tests.conftest import image_entry, make_key
from backend.storage.blobs import S3BlobStore

pytestmark = pytest.mark.django_db


def test_cache_round_trip_and_eviction_on_s3(s3_store: S3BlobStore) -> None:
    store = DatabaseCacheStore(s3_store)
    entry = image_entry(seed=9)
    store.put(make_key("s3"), entry)
    loaded = store.get(make_key("s3"))
    assert loaded is not None
    np.testing.assert_array_equal(loaded.outputs[0], entry.outputs[0])
    shas = CacheRecord.objects.get(key=make_key("s3")).blobs
    assert s3_store.exists_many(shas) == set(shas)

    report = evict_cache(0, protect_seconds=0, blob_store=s3_store)
    assert report.rows_deleted == 1
    assert report.blobs.deleted == len(shas)  # no grace: written before the collection started
    assert s3_store.exists_many(shas) == set()
