"""Cache stores the engine uses across workers: the database index plus blob store, and a memory tier on top.

The index (``CacheRecord``: key -> manifest) is separate from the result store (``BlobStore``: sha -> bytes).
``put`` writes blobs first and the row last, so a row never points at blobs that were not written; a row whose
blobs were evicted meanwhile reads as a miss.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from django.db import close_old_connections, connection
from django.db.models import F
from django.utils import timezone

from backend.cache.models import CacheRecord
from backend.core.json_text import json_texter
from backend.storage.blobs import BlobNotFound, BlobStore, get_blob_store
from workers.engine.cache import CacheEntry, MemoryCache
from workers.runtime.codecs import (
    Unencodable,
    decode_ui,
    decode_value,
    encode_ui,
    encode_value,
)

logger = logging.getLogger(__name__)

MANIFEST_VERSION = 1

# How a manifest is stored (and measured): ``json.dumps(manifest, separators=(",", ":"))``'s text, by one encoder
# for every put. No check for reference cycles: manifests are built by ``encode_entry``, of the codec's plain JSON.
manifest_text = json_texter(separators=(",", ":"))


_F = TypeVar("_F", bound=Callable[..., Any])


def _releasing_thread_connection(method: _F) -> _F:
    """Close the calling thread's connection afterwards when it is a worker thread and CONN_MAX_AGE allows.

    The engine calls the store from short-lived pool threads; Django never closes their connections otherwise,
    so every run would leave connections open until garbage collection.
    """

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        finally:
            if threading.current_thread() is not threading.main_thread() and not connection.in_atomic_block:
                close_old_connections()

    return wrapper  # type: ignore[return-value]


def encode_entry(entry: CacheEntry) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Return (manifest JSON, blobs by sha) for ``entry``; raise ``Unencodable`` if any part cannot be stored."""
    blobs: dict[str, bytes] = {}
    outputs = []
    for type_name, value in zip(entry.output_types, entry.outputs, strict=True):
        encoded = encode_value(type_name, value)
        outputs.append(encoded.data)
        blobs.update(encoded.blobs)
    ui = None
    if entry.ui is not None:
        encoded_ui = encode_ui(entry.ui)
        ui = encoded_ui.data
        blobs.update(encoded_ui.blobs)
    manifest = {
        "v": MANIFEST_VERSION,
        "node_type": entry.node_type,
        "output_types": list(entry.output_types),
        "outputs": outputs,
        "ui": ui,
    }
    return manifest, blobs


def decode_entry(manifest: Mapping[str, Any], store: BlobStore, size: int) -> CacheEntry:
    """Return the ``CacheEntry`` a manifest describes; raise ``BlobNotFound`` if a blob is gone."""
    if manifest.get("v") != MANIFEST_VERSION:
        raise ValueError(f"unsupported cache manifest version {manifest.get('v')!r}")
    outputs = tuple(decode_value(data, store.read) for data in manifest["outputs"])
    ui = decode_ui(manifest["ui"], store.read) if manifest["ui"] is not None else None
    return CacheEntry(
        outputs=outputs,
        output_types=tuple(manifest["output_types"]),
        ui=ui,
        node_type=manifest["node_type"],
        size=size,
    )


class _PendingRow:
    """A ``CacheRecord`` row waiting for the next batch, without the model machinery (a model instance and its
    field preparation cost more than the rest of a small node's caching)."""

    __slots__ = (
        "key",
        "node_type",
        "pack_name",
        "pack_version",
        "manifest",
        "manifest_json",
        "blobs",
        "size",
    )

    def __init__(
        self,
        key: str,
        node_type: str,
        pack_name: str,
        pack_version: str,
        manifest: dict[str, Any],
        manifest_json: str,
        blobs: list[str],
        size: int,
    ) -> None:
        self.key, self.node_type, self.pack_name, self.pack_version = key, node_type, pack_name, pack_version
        self.manifest, self.manifest_json, self.blobs, self.size = manifest, manifest_json, blobs, size


_COLUMNS = ("key", "node_type", "pack_name", "pack_version", "manifest", "blobs", "size", "created", "last_hit",
            "hit_count")  # fmt: skip


def _blobs_text(blobs: list[str]) -> str:
    """The ``blobs`` column's JSON (``json.dumps``'s), without a call for the common empty list."""
    return json.dumps(blobs) if blobs else "[]"


def existing_keys(keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` the index holds, as ``CacheRecord.objects.filter(key__in=keys)`` answers, without the
    ORM preparing each key (a 5,000-node run looks up 5,000 keys): one array on Postgres, a statement per
    parameter limit on SQLite."""
    if not keys:
        return set()
    if connection.vendor not in ("postgresql", "sqlite"):
        return set(CacheRecord.objects.filter(key__in=keys).values_list("key", flat=True))
    table = connection.ops.quote_name(CacheRecord._meta.db_table)
    found: set[str] = set()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The keys as one JSON text: psycopg's Python implementation quoted an array's items one call each.
            cursor.execute(
                f'SELECT "key" FROM {table} WHERE "key" = ANY(ARRAY(SELECT jsonb_array_elements_text(%s::jsonb)))',
                [manifest_text(list(keys))],
            )
            found.update(key for (key,) in cursor.fetchall())
            return found
        keys = list(keys)
        per_statement = connection.features.max_query_params or 999
        for start in range(0, len(keys), per_statement):
            batch = keys[start : start + per_statement]
            marks = ", ".join(["%s"] * len(batch))
            cursor.execute(f'SELECT "key" FROM {table} WHERE "key" IN ({marks})', batch)
            found.update(key for (key,) in cursor.fetchall())
    return found


def insert_cache_records(rows: Sequence[_PendingRow]) -> None:
    """Insert ``rows`` in as few statements as the database takes; keys stored already are left as they are."""
    if not rows:
        return
    if connection.vendor not in ("postgresql", "sqlite"):
        records = [
            CacheRecord(key=r.key, node_type=r.node_type, pack_name=r.pack_name, pack_version=r.pack_version,
                        manifest=r.manifest, blobs=r.blobs, size=r.size)
            for r in rows
        ]  # fmt: skip
        CacheRecord.objects.bulk_create(records, ignore_conflicts=True, batch_size=500)
        return
    table = connection.ops.quote_name(CacheRecord._meta.db_table)
    names = ", ".join(connection.ops.quote_name(name) for name in _COLUMNS)
    now = timezone.now()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The rows as one JSON text the statement takes apart (the manifest and blobs as the same texts as
            # before): psycopg's Python implementation quoted seven arrays' items one call each.
            packed = [
                [
                    r.key,
                    r.node_type,
                    r.pack_name,
                    r.pack_version,
                    r.manifest_json,
                    _blobs_text(r.blobs),
                    r.size,
                ]
                for r in rows
            ]
            cursor.execute(
                f"INSERT INTO {table} ({names}) SELECT r->>0, r->>1, r->>2, r->>3, (r->>4)::jsonb, (r->>5)::jsonb, "
                "(r->>6)::bigint, %s, %s, 0 FROM jsonb_array_elements(%s::jsonb) AS r "
                'ON CONFLICT ("key") DO NOTHING',
                [now, now, manifest_text(packed)],
            )
            return
        stamp = connection.ops.adapt_datetimefield_value(now)
        per_statement = max(1, (connection.features.max_query_params or 999) // len(_COLUMNS))
        row_marks = "(" + ", ".join(["%s"] * len(_COLUMNS)) + ")"
        for start in range(0, len(rows), per_statement):
            batch = rows[start : start + per_statement]
            params: list[Any] = []
            for r in batch:
                params += [r.key, r.node_type, r.pack_name, r.pack_version, r.manifest_json, _blobs_text(r.blobs),
                           r.size, stamp, stamp, 0]  # fmt: skip
            values = ", ".join([row_marks] * len(batch))
            cursor.execute(f"INSERT OR IGNORE INTO {table} ({names}) VALUES {values}", params)


# A full buffer is written by the process's flusher thread, so the run's thread goes on executing meanwhile (it
# waited for the insert: on SQLite behind the run's own event writes for the process's one writer turn, ~0.7 s of
# a 5,000-chain). Past this many buffers' worth the flusher is behind, and the putting thread writes and waits.
INLINE_FLUSH_BUFFERS = 4


class DatabaseCacheStore:
    """The shared cache: ``CacheRecord`` rows in the database, values in the blob store.

    With ``flush_rows > 1`` rows are written in batches: ``put`` stores the blobs at once and buffers the row;
    the buffer goes to the database in one insert when it holds ``flush_rows`` rows, ``flush_seconds`` after
    the first row was buffered (so a worker that dies mid-run has already shared what it finished), and
    whenever ``flush()`` is called (the engine calls it when a run ends). Workers batch: one insert per node
    made a 500-node run spend seconds in commits. Buffered rows already answer ``contains_many`` and ``get``.
    """

    def __init__(
        self,
        blob_store: BlobStore | None = None,
        *,
        registry: Any = None,
        flush_rows: int = 1,
        flush_seconds: float = 0.05,
    ) -> None:
        """``registry`` (a ``NodeRegistry``) fills in each row's pack name and version when given."""
        self.blob_store = blob_store or get_blob_store()
        self.registry = registry
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self._scheduled = False  # a flush is due on the process's flusher thread
        self.unencodable = 0
        self._pending: dict[str, _PendingRow] = {}
        self._pending_lock = threading.Lock()
        self._flush_lock = threading.Lock()

    @_releasing_thread_connection
    def contains_many(self, keys: Sequence[str]) -> set[str]:
        """Return the subset of ``keys`` present in the index (one query; no values are loaded)."""
        wanted = set(keys)
        if not wanted:
            return set()
        with self._pending_lock:
            buffered = wanted & self._pending.keys()
        rest = wanted - buffered
        return buffered | existing_keys(list(rest))

    @_releasing_thread_connection
    def get(self, key: str) -> CacheEntry | None:
        """Load the entry under ``key``; None if missing, evicted meanwhile, or its blobs are gone."""
        with self._pending_lock:
            buffered = self._pending.get(key)
        if buffered is not None:
            try:
                return decode_entry(buffered.manifest, self.blob_store, buffered.size)
            except (BlobNotFound, ValueError, KeyError, TypeError, OSError):
                return None
        # Touch first: once the row is marked as just hit, eviction (which skips recent rows) leaves it alone.
        touched = CacheRecord.objects.filter(key=key).update(
            last_hit=timezone.now(), hit_count=F("hit_count") + 1
        )
        if not touched:
            return None
        row = CacheRecord.objects.filter(key=key).values_list("manifest", "size").first()
        if row is None:
            return None
        manifest, size = row
        try:
            return decode_entry(manifest, self.blob_store, size)
        except BlobNotFound as exc:
            logger.warning("cache entry %s refers to missing blob %s: dropping it", key, exc)
        except (ValueError, KeyError, TypeError, OSError) as exc:
            logger.warning("cache entry %s cannot be decoded (%s): dropping it", key, exc)
        # A row that cannot be loaded would otherwise block the fresh result from being stored under its key.
        CacheRecord.objects.filter(key=key).delete()
        return None

    def put(self, key: str, entry: CacheEntry) -> None:
        """Store ``entry``: blobs at once, the row with the next batch; a value that cannot be stored safely
        is skipped. Two workers storing the same key is harmless (the second row is ignored)."""
        try:
            manifest, blobs = encode_entry(entry)
        except Unencodable as exc:
            self.unencodable += 1
            logger.info("not caching %s output of %s: %s", entry.node_type, key[:12], exc)
            return
        for data in blobs.values():
            self.blob_store.put(data)
        pack_name, pack_version = self._pack_of(entry.node_type)
        manifest_json = manifest_text(manifest)  # measured and stored as is
        size = sum(len(data) for data in blobs.values()) + len(manifest_json)
        record = _PendingRow(
            key, entry.node_type, pack_name, pack_version, manifest, manifest_json, sorted(blobs), size
        )
        with self._pending_lock:
            self._pending[key] = record
            waiting = len(self._pending)
            # Unbuffered (flush_rows 1), or the flusher thread is behind: this thread writes, and waits.
            inline = self.flush_rows == 1 or waiting >= self.flush_rows * INLINE_FLUSH_BUFFERS
            # The buffer just filled: written now by the flusher thread (once: not again at each later put while
            # the flusher gets to it); else flush_seconds after its first row. Rows are added one at a time, so a
            # filling buffer passes exactly ``flush_rows``; the flusher keeps the earliest time it is given.
            full = waiting == self.flush_rows
            if not inline and (full or not self._scheduled):
                self._scheduled = True
                _flusher().schedule(self, 0.0 if full else self.flush_seconds)
        if inline:
            self.flush()

    def _flush_on_timer(self) -> None:
        with self._pending_lock:
            self._scheduled = False
        try:
            self.flush()
        except Exception:  # the next flush retries; the engine's end-of-run flush reports failures
            logger.exception("could not write buffered cache rows")

    @_releasing_thread_connection
    def flush(self) -> None:
        """Write the buffered rows in one insert (rows another worker stored first are left as they are).

        One flush at a time per store: a caller waits for the one in progress, so when ``flush`` returns every
        row put before the call is stored. Rows stay buffered (and readable) until their insert commits; a
        failed insert leaves them for the next flush rather than lose them."""
        with self._flush_lock:
            with self._pending_lock:
                records = list(self._pending.values())
                if self._scheduled:
                    self._scheduled = False
                    _flusher().cancel(self)
            if not records:
                return
            insert_cache_records(records)
            with self._pending_lock:
                for record in records:
                    if self._pending.get(record.key) is record:  # not replaced by a newer put meanwhile
                        del self._pending[record.key]

    def _pack_of(self, node_type: str) -> tuple[str, str]:
        node = self.registry.get(node_type) if self.registry is not None else None
        if node is None:
            return "", ""
        return node.pack.name, node.pack.version


class _Flusher:
    """One thread per process that writes the stores' buffered rows when they are due (a timer thread per store
    started a thread for every run: a wait for the scheduler on a busy machine)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.condition = threading.Condition()
        self.due: dict[DatabaseCacheStore, float] = {}
        self.thread = threading.Thread(target=self._loop, name="flowyard-cache-flush", daemon=True)
        self.thread.start()

    def schedule(self, store: DatabaseCacheStore, delay: float) -> None:
        """Flush ``store`` within ``delay`` seconds (an earlier time already due stands)."""
        with self.condition:
            at = time.monotonic() + delay
            self.due[store] = min(self.due.get(store, at), at)
            self.condition.notify()

    def cancel(self, store: DatabaseCacheStore) -> None:
        with self.condition:
            self.due.pop(store, None)

    def _loop(self) -> None:
        while True:
            with self.condition:
                now = time.monotonic()
                ready = [store for store, at in self.due.items() if at <= now]
                if not ready:
                    self.condition.wait(min(self.due.values()) - now if self.due else None)
                    continue
                for store in ready:
                    del self.due[store]
            for store in ready:
                store._flush_on_timer()


_the_flusher: _Flusher | None = None
_flusher_lock = threading.Lock()


def _flusher() -> _Flusher:
    global _the_flusher
    with _flusher_lock:
        # A forked process (a Celery prefork child) has the parent's object but not its thread.
        if _the_flusher is None or _the_flusher.pid != os.getpid():
            _the_flusher = _Flusher()
        return _the_flusher


class TieredCacheStore:
    """A worker's memory cache in front of the shared store: reads memory first, writes through to both."""

    def __init__(self, memory: MemoryCache, shared: DatabaseCacheStore) -> None:
        self.memory = memory
        self.shared = shared

    def contains_many(self, keys: Sequence[str]) -> set[str]:
        """Keys held in memory, plus those the shared index holds (one query for the rest)."""
        in_memory = self.memory.contains_many(keys)
        rest = [key for key in keys if key not in in_memory]
        return in_memory | (self.shared.contains_many(rest) if rest else set())

    def get(self, key: str) -> CacheEntry | None:
        """The entry from memory, else from the shared store (then kept in memory)."""
        entry = self.memory.get(key)
        if entry is not None:
            return entry
        entry = self.shared.get(key)
        if entry is not None:
            self.memory.put(key, entry)
        return entry

    def put(self, key: str, entry: CacheEntry) -> None:
        """Store in memory and in the shared store."""
        self.memory.put(key, entry)
        self.shared.put(key, entry)

    def flush(self) -> None:
        """Write what the shared store has buffered."""
        self.shared.flush()
