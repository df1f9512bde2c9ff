"""Keeping the shared cache within its byte budget, least recently hit first, without breaking running work."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from backend.cache.models import CacheRecord
from backend.storage.blobs import BlobStore
from backend.storage.references import CollectionReport, collect_unreferenced_blobs

logger = logging.getLogger(__name__)

BATCH = 500


@dataclass
class EvictionReport:
    """What an eviction pass did."""

    budget_bytes: int
    size_before: int
    size_after: int
    rows_deleted: int = 0
    bytes_freed: int = 0
    protected_rows: int = 0
    blobs: CollectionReport = field(default_factory=CollectionReport)

    @property
    def over_budget(self) -> bool:
        """True when protected rows alone keep the cache above its budget."""
        return self.size_after > self.budget_bytes


def cache_size() -> int:
    """Total bytes the cache index accounts for."""
    return int(CacheRecord.objects.aggregate(total=Sum("size"))["total"] or 0)


def evict_cache(
    budget_bytes: int | None = None,
    *,
    protect_seconds: int | None = None,
    blob_store: BlobStore | None = None,
    now: datetime | None = None,
) -> EvictionReport:
    """Delete least-recently-hit rows until the cache fits ``budget_bytes``, then the blobs nobody refers to.

    Rows hit or stored within ``protect_seconds`` are never deleted (a run in progress may be about to load
    them); defaults come from ``FLOWYARD_CACHE_BUDGET_BYTES`` and ``FLOWYARD_CACHE_PROTECT_SECONDS``.
    """
    budget = settings.FLOWYARD_CACHE_BUDGET_BYTES if budget_bytes is None else budget_bytes
    protect = settings.FLOWYARD_CACHE_PROTECT_SECONDS if protect_seconds is None else protect_seconds
    cutoff = (now or timezone.now()) - timedelta(seconds=protect)
    size_before = cache_size()
    report = EvictionReport(budget_bytes=budget, size_before=size_before, size_after=size_before)
    if size_before <= budget:
        return report

    candidates: set[str] = set()
    to_free = size_before - budget
    while report.bytes_freed < to_free:
        batch: list[str] = []
        planned = 0
        oldest = (
            CacheRecord.objects.filter(last_hit__lt=cutoff)
            .order_by("last_hit", "key")
            .values_list("key", "size")[:BATCH]
        )
        for key, size in oldest:
            batch.append(key)
            planned += size
            if report.bytes_freed + planned >= to_free:
                break
        if not batch:
            break
        deleted, freed, blobs = _delete_rows(batch, cutoff)
        if not deleted:
            break  # every row of the batch was hit (or locked by a hit) meanwhile: stop rather than spin
        report.rows_deleted += deleted
        report.bytes_freed += freed
        candidates.update(blobs)

    report.size_after = cache_size()
    if report.over_budget:
        report.protected_rows = CacheRecord.objects.filter(last_hit__gte=cutoff).count()
    if candidates:
        report.blobs = collect_unreferenced_blobs(candidates, store=blob_store, grace_seconds=protect)
    logger.info(
        "cache eviction: %d rows, %d bytes freed, %d blobs deleted; %d of %d bytes used",
        report.rows_deleted,
        report.bytes_freed,
        report.blobs.deleted,
        report.size_after,
        budget,
    )
    return report


def _delete_rows(keys: list[str], cutoff: datetime) -> tuple[int, int, set[str]]:
    """Delete those of ``keys`` still not hit since ``cutoff``; return (rows, bytes, blobs they referred to)."""
    with transaction.atomic():
        rows = CacheRecord.objects.filter(key__in=keys, last_hit__lt=cutoff)
        if connection.features.has_select_for_update:
            # Lock the rows so a concurrent get() either touches a row first (and it is skipped) or finds it gone.
            skip = connection.features.has_select_for_update_skip_locked
            rows = rows.select_for_update(skip_locked=skip)
        found = list(rows.values_list("key", "size", "blobs"))
        if not found:
            return 0, 0, set()
        CacheRecord.objects.filter(key__in=[key for key, _, _ in found]).delete()
    blobs = {sha for _, _, shas in found for sha in shas}
    return len(found), sum(size for _, size, _ in found), blobs
