"""Deleting blobs safely: a blob goes only when no app still refers to it.

Each app that stores blob hashes (the cache index, run outputs, uploads) registers a *reference checker*: a
function that takes a set of hashes and returns the subset it still refers to. ``collect_unreferenced_blobs`` is
the one way blobs are deleted: it asks every checker, then deletes the rest unless they were put again within
the grace period (a writer may have reused the blob and be about to record its reference).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

from backend.storage.blobs import BlobStore, get_blob_store

logger = logging.getLogger(__name__)

BlobReferenceChecker = Callable[[set[str]], set[str]]
"""Given candidate hashes, return those still referenced."""

_checkers: dict[str, BlobReferenceChecker] = {}
_lock = threading.Lock()
BATCH = 500


def register_blob_reference_checker(name: str, checker: BlobReferenceChecker) -> None:
    """Register (or replace) the reference checker called ``name``; apps call this from ``AppConfig.ready``."""
    with _lock:
        _checkers[name] = checker


def unregister_blob_reference_checker(name: str) -> None:
    """Remove the checker called ``name`` (tests)."""
    with _lock:
        _checkers.pop(name, None)


def blob_reference_checkers() -> dict[str, BlobReferenceChecker]:
    """The registered checkers by name."""
    with _lock:
        return dict(_checkers)


def referenced_blobs(shas: Iterable[str]) -> set[str]:
    """Return the subset of ``shas`` that some registered app still refers to."""
    remaining = set(shas)
    referenced: set[str] = set()
    for checker in blob_reference_checkers().values():
        if not remaining:
            break
        found = checker(set(remaining)) & remaining
        referenced |= found
        remaining -= found
    return referenced


@dataclass
class CollectionReport:
    """What a collection did: candidates seen, still referenced, recently touched (kept), deleted."""

    candidates: int = 0
    referenced: int = 0
    recently_touched: int = 0
    deleted: int = 0

    def merge(self, other: CollectionReport) -> None:
        """Add ``other``'s counts to this report."""
        self.candidates += other.candidates
        self.referenced += other.referenced
        self.recently_touched += other.recently_touched
        self.deleted += other.deleted


def collect_unreferenced_blobs(
    candidate_shas: Iterable[str],
    *,
    store: BlobStore | None = None,
    grace_seconds: float | None = None,
) -> CollectionReport:
    """Delete those of ``candidate_shas`` no app refers to and nobody put within ``grace_seconds``.

    The grace period (default ``FLOWYARD_CACHE_PROTECT_SECONDS``) counts back from the start of this call, so a
    writer that re-puts a blob and records its reference at most that long afterwards never loses it.
    """
    from django.conf import settings

    store = store or get_blob_store()
    if grace_seconds is None:
        grace_seconds = settings.FLOWYARD_CACHE_PROTECT_SECONDS
    cutoff = time.time() - grace_seconds
    report = CollectionReport()
    for batch in _batches(candidate_shas, BATCH):
        report.candidates += len(batch)
        keep = referenced_blobs(batch)
        report.referenced += len(keep)
        for sha in sorted(batch - keep):
            if store.delete(sha, unless_touched_since=cutoff):
                report.deleted += 1
            elif store.exists(sha):
                report.recently_touched += 1
    if report.deleted:
        logger.info("deleted %d unreferenced blobs of %d candidates", report.deleted, report.candidates)
    return report


def sweep_orphan_blobs(
    *, store: BlobStore | None = None, grace_seconds: float | None = None
) -> CollectionReport:
    """Check every stored blob (e.g. ones written by a worker that died before recording them)."""
    store = store or get_blob_store()
    return collect_unreferenced_blobs(store.iter_shas(), store=store, grace_seconds=grace_seconds)


def _batches(items: Iterable[str], size: int) -> Iterator[set[str]]:
    iterator = iter(items)
    while batch := set(islice(iterator, size)):
        yield batch
