"""The cache index: which node results exist (key -> manifest of encoded outputs), their size and use."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection, models
from django.utils import timezone


class CacheRecord(models.Model):
    """One node result: its cache key, what produced it, the encoded outputs and the blobs they refer to."""

    key = models.CharField(max_length=64, primary_key=True)
    node_type = models.CharField(max_length=200)
    pack_name = models.CharField(max_length=100, blank=True, default="")
    pack_version = models.CharField(max_length=64, blank=True, default="")
    manifest = models.JSONField(
        help_text="Encoded outputs (inline values and blob references), types and UI."
    )
    blobs = models.JSONField(default=list, help_text="sha256 of every blob the manifest refers to.")
    size = models.BigIntegerField(help_text="Bytes stored: blobs plus manifest.")
    created = models.DateTimeField(default=timezone.now)
    last_hit = models.DateTimeField(
        default=timezone.now, help_text="Last time the entry was stored or loaded."
    )
    hit_count = models.BigIntegerField(default=0)

    class Meta:
        indexes = [
            # Eviction walks rows from the least recently hit.
            models.Index(fields=["last_hit", "key"], name="cache_record_eviction"),
            models.Index(fields=["pack_name", "pack_version"], name="cache_record_pack"),
        ]

    def __str__(self) -> str:
        return f"{self.node_type} {self.key[:12]}"

    def is_protected(self, protect_seconds: int, now: datetime | None = None) -> bool:
        """True when the entry was touched within the protection window (eviction must keep it)."""
        return self.last_hit >= (now or timezone.now()) - timedelta(seconds=protect_seconds)


def cache_blob_references(shas: set[str]) -> set[str]:
    """Return those of ``shas`` that some ``CacheRecord`` refers to (the cache's blob reference checker)."""
    if not shas:
        return set()
    table = connection.ops.quote_name(CacheRecord._meta.db_table)
    wanted = sorted(shas)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # ?| is answered by the GIN index on blobs; the lateral join keeps only the matching elements.
            cursor.execute(
                f"SELECT DISTINCT e.sha FROM {table} r "
                "CROSS JOIN LATERAL jsonb_array_elements_text(r.blobs) AS e(sha) "
                "WHERE r.blobs ?| %s AND e.sha = ANY(%s)",
                [wanted, wanted],
            )
            return {row[0] for row in cursor.fetchall()}
        if connection.vendor == "sqlite":
            found: set[str] = set()
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join(["%s"] * len(chunk))
                cursor.execute(
                    f"SELECT DISTINCT j.value FROM {table} r, json_each(r.blobs) j WHERE j.value IN ({marks})",
                    chunk,
                )
                found.update(row[0] for row in cursor.fetchall())
            return found
    referenced: set[str] = set()
    for blobs in CacheRecord.objects.values_list("blobs", flat=True).iterator(chunk_size=1000):
        referenced.update(set(blobs) & shas)
    return referenced
