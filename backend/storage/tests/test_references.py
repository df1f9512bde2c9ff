"""Blob collection asks every registered app which blobs it still refers to."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from backend.storage.blobs import LocalBlobStore
from backend.storage.references import (
    blob_reference_checkers,
    collect_unreferenced_blobs,
    register_blob_reference_checker,
    sweep_orphan_blobs,
    unregister_blob_reference_checker,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def held() -> Iterator[set[str]]:
    """Blob hashes a pretend app (say, run outputs) refers to."""
    refs: set[str] = set()
    register_blob_reference_checker("tests.outputs", lambda shas: shas & refs)
    yield refs
    unregister_blob_reference_checker("tests.outputs")


def backdate(store: LocalBlobStore, *shas: str) -> None:
    old = time.time() - 3600
    for sha in shas:
        os.utime(store.path(sha), (old, old))


def test_the_cache_registers_its_checker() -> None:
    assert "cache.CacheRecord" in blob_reference_checkers()


def test_referenced_blobs_are_kept_and_the_rest_deleted(local_store: LocalBlobStore, held: set[str]) -> None:
    kept = local_store.put(b"a run output")
    loose = local_store.put(b"nobody wants me")
    backdate(local_store, kept, loose)
    held.add(kept)
    report = collect_unreferenced_blobs([kept, loose], store=local_store, grace_seconds=60)
    assert (report.candidates, report.referenced, report.deleted) == (2, 1, 1)
    assert local_store.exists(kept) and not local_store.exists(loose)


def test_blobs_put_within_the_grace_period_are_kept(local_store: LocalBlobStore, held: set[str]) -> None:
    fresh = local_store.put(b"just reused by a writer who has not recorded it yet")
    report = collect_unreferenced_blobs([fresh], store=local_store, grace_seconds=60)
    assert report.recently_touched == 1 and report.deleted == 0
    assert local_store.exists(fresh)


def test_orphan_sweep_checks_every_blob(local_store: LocalBlobStore, held: set[str]) -> None:
    shas = [local_store.put(f"orphan {i}".encode()) for i in range(5)]
    backdate(local_store, *shas)
    held.add(shas[0])
    report = sweep_orphan_blobs(store=local_store, grace_seconds=60)
    assert report.deleted == 4
    assert list(local_store.iter_shas()) == [shas[0]]
