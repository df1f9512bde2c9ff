"""Eviction: least recently hit first, down to the budget, never recent rows, never blobs still referred to."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from backend.cache.eviction import cache_size, evict_cache
from backend.cache.models import CacheRecord
from backend.cache.stores import DatabaseCacheStore
from backend.cache.tests.conftest import image_entry, make_key
from backend.storage.blobs import LocalBlobStore
from backend.storage.references import register_blob_reference_checker, unregister_blob_reference_checker

pytestmark = pytest.mark.django_db

PROTECT = 600


def age(key: str, seconds: float) -> None:
    """Pretend the row was last hit ``seconds`` ago."""
    CacheRecord.objects.filter(key=key).update(last_hit=timezone.now() - timedelta(seconds=seconds))


def backdate_blobs(store: LocalBlobStore) -> None:
    """Pretend every blob was written an hour ago (older than the grace period)."""
    old = time.time() - 3600
    for sha in store.iter_shas():
        os.utime(store.path(sha), (old, old))


def fill(store: DatabaseCacheStore, names: str) -> dict[str, int]:
    """Store one distinct entry per name, each older than the last (first name = least recently hit)."""
    sizes = {}
    for i, name in enumerate(names):
        store.put(make_key(name), image_entry(seed=i))
        age(make_key(name), 3600 * (len(names) - i))
        sizes[name] = CacheRecord.objects.get(key=make_key(name)).size
    backdate_blobs(store.blob_store)  # type: ignore[arg-type]
    return sizes


def test_nothing_happens_under_budget(store: DatabaseCacheStore, blob_store: LocalBlobStore) -> None:
    fill(store, "ab")
    report = evict_cache(cache_size(), protect_seconds=PROTECT, blob_store=blob_store)
    assert report.rows_deleted == 0 and report.blobs.deleted == 0
    assert CacheRecord.objects.count() == 2


def test_least_recently_hit_rows_go_first_until_the_budget_fits(
    store: DatabaseCacheStore, blob_store: LocalBlobStore
) -> None:
    sizes = fill(store, "abcd")
    gone_blobs = set(CacheRecord.objects.get(key=make_key("a")).blobs)
    budget = sizes["c"] + sizes["d"]
    report = evict_cache(budget, protect_seconds=PROTECT, blob_store=blob_store)
    assert report.rows_deleted == 2
    assert report.bytes_freed == sizes["a"] + sizes["b"]
    assert report.size_after <= budget and not report.over_budget
    assert set(CacheRecord.objects.values_list("key", flat=True)) == {make_key("c"), make_key("d")}
    assert report.blobs.deleted == 6
    assert not blob_store.exists_many(gone_blobs)
    for name in "cd":
        assert store.get(make_key(name)) is not None


def test_a_hit_makes_a_row_recent(store: DatabaseCacheStore, blob_store: LocalBlobStore) -> None:
    sizes = fill(store, "ab")
    assert store.get(make_key("a")) is not None  # "a" is now the most recently hit
    evict_cache(sizes["a"] + 1, protect_seconds=0, blob_store=blob_store)
    assert list(CacheRecord.objects.values_list("key", flat=True)) == [make_key("a")]


def test_rows_touched_within_the_protection_window_are_never_evicted(
    store: DatabaseCacheStore, blob_store: LocalBlobStore
) -> None:
    fill(store, "abc")
    age(make_key("b"), 60)  # in use by a run right now
    age(make_key("c"), 0)
    report = evict_cache(0, protect_seconds=PROTECT, blob_store=blob_store)
    assert report.rows_deleted == 1
    assert set(CacheRecord.objects.values_list("key", flat=True)) == {make_key("b"), make_key("c")}
    assert report.over_budget and report.protected_rows == 2
    assert store.get(make_key("b")) is not None


def test_blobs_shared_with_a_remaining_row_are_kept(
    store: DatabaseCacheStore, blob_store: LocalBlobStore
) -> None:
    store.put(make_key("old"), image_entry(seed=5))
    store.put(make_key("new"), image_entry(seed=5))  # same outputs under another key: the same blobs
    age(make_key("old"), 7200)
    backdate_blobs(blob_store)
    report = evict_cache(cache_size() - 1, protect_seconds=PROTECT, blob_store=blob_store)
    assert report.rows_deleted == 1
    assert report.blobs.referenced == 3 and report.blobs.deleted == 0
    assert store.get(make_key("new")) is not None


@pytest.fixture
def run_outputs() -> Iterator[set[str]]:
    """Blobs a (future) run-outputs app refers to."""
    refs: set[str] = set()
    register_blob_reference_checker("tests.run_outputs", lambda shas: shas & refs)
    yield refs
    unregister_blob_reference_checker("tests.run_outputs")


def test_eviction_never_breaks_a_stored_run_output(
    store: DatabaseCacheStore, blob_store: LocalBlobStore, run_outputs: set[str]
) -> None:
    fill(store, "a")
    record = CacheRecord.objects.get(key=make_key("a"))
    saved_png = record.manifest["ui"]["images"][0]["png"][0]
    run_outputs.add(saved_png)
    report = evict_cache(0, protect_seconds=PROTECT, blob_store=blob_store)
    assert report.rows_deleted == 1
    assert report.blobs.deleted == 2
    assert blob_store.exists(saved_png)


def test_blobs_put_again_during_the_grace_period_are_kept(
    store: DatabaseCacheStore, blob_store: LocalBlobStore
) -> None:
    fill(store, "a")
    shas = CacheRecord.objects.get(key=make_key("a")).blobs
    # A writer reuses one blob (the put touches it) and has not recorded its reference yet.
    blob_store.put(blob_store.read(shas[0]))
    report = evict_cache(0, protect_seconds=PROTECT, blob_store=blob_store)
    assert report.blobs.recently_touched == 1
    assert blob_store.exists(shas[0])


def test_an_evicted_entry_reads_as_a_miss(store: DatabaseCacheStore, blob_store: LocalBlobStore) -> None:
    fill(store, "a")
    assert store.contains_many([make_key("a")])
    evict_cache(0, protect_seconds=PROTECT, blob_store=blob_store)
    assert store.contains_many([make_key("a")]) == set()
    assert store.get(make_key("a")) is None


def test_evict_cache_command(
    store: DatabaseCacheStore,
    blob_store: LocalBlobStore,
    settings: object,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from django.test import override_settings

    fill(store, "ab")
    with override_settings(FLOWYARD_BLOB_BACKEND="local", FLOWYARD_BLOB_DIR=blob_store.root):
        call_command("evict_cache", "--budget", "0", "--sweep-orphans")
    out = capsys.readouterr().out
    assert "evicted 2 entries" in out and "deleted 6 blobs" in out and "orphan sweep" in out
    assert CacheRecord.objects.count() == 0
    assert list(blob_store.iter_shas()) == []
