"""The shared cache store: round trips through the database index and the blob store."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteDatabaseWrapper

from backend.cache.models import CacheRecord
from backend.cache.stores import DatabaseCacheStore, TieredCacheStore
from backend.cache.tests.conftest import image_entry, make_key
from backend.storage.blobs import LocalBlobStore
from nodepacks.sdk import UI
from workers.engine.cache import CacheEntry, MemoryCache
from workers.engine.registry import default_registry

pytestmark = pytest.mark.django_db


class Opaque:
    pass


def test_round_trip_of_images_masks_text_json_and_ui(store: DatabaseCacheStore) -> None:
    entry = image_entry(seed=3)
    store.put(make_key("a"), entry)
    loaded = store.get(make_key("a"))
    assert loaded is not None
    assert loaded.output_types == ("IMAGE", "MASK", "STRING", "JSON")
    assert loaded.node_type == "test.Render"
    for original, value in zip(entry.outputs[:2], loaded.outputs[:2], strict=True):
        assert value.dtype == original.dtype and value.shape == original.shape
        np.testing.assert_array_equal(value, original)
    assert loaded.outputs[2:] == ("text 3", {"seed": 3, "tags": ["a", "b"]})
    assert loaded.ui is not None and entry.ui is not None
    np.testing.assert_array_equal(loaded.ui.images[0], entry.ui.images[0])
    assert list(loaded.ui.text) == ["seed 3"] and loaded.ui.data == {"seed": 3}


def test_row_records_what_it_refers_to(store: DatabaseCacheStore, blob_store: LocalBlobStore) -> None:
    store.put(make_key("a"), image_entry())
    record = CacheRecord.objects.get(key=make_key("a"))
    assert record.node_type == "test.Render"
    # image npy, mask npy and the preview PNG: the UI's image is the output image, so its npy is the same blob
    assert len(record.blobs) == 3
    assert blob_store.exists_many(record.blobs) == set(record.blobs)
    assert record.size >= sum(blob_store.size(sha) for sha in record.blobs)
    assert record.hit_count == 0


def test_entry_without_ui_and_with_primitives(store: DatabaseCacheStore) -> None:
    entry = CacheEntry((1, 2.5, True, None), ("INT", "FLOAT", "BOOLEAN", "ANY"), None, "test.Prims", 32)
    store.put(make_key("p"), entry)
    loaded = store.get(make_key("p"))
    assert loaded is not None and loaded.outputs == (1, 2.5, True, None) and loaded.ui is None
    assert CacheRecord.objects.get(key=make_key("p")).blobs == []


def test_pack_name_and_version_come_from_the_registry(blob_store: LocalBlobStore) -> None:
    registry = default_registry()
    store = DatabaseCacheStore(blob_store, registry=registry)
    store.put(make_key("core"), CacheEntry((5,), ("INT",), None, "PrimitiveInt", 8))
    record = CacheRecord.objects.get(key=make_key("core"))
    entry = registry.get("PrimitiveInt")
    assert entry is not None
    assert (record.pack_name, record.pack_version) == (entry.pack.name, entry.pack.version)


def test_contains_many_is_one_query(store: DatabaseCacheStore, django_assert_num_queries: Any) -> None:
    for name in "abc":
        store.put(make_key(name), CacheEntry((name,), ("STRING",), None, "test.S", 1))
    keys = [make_key(name) for name in "abcdefgh"]
    with django_assert_num_queries(1):
        found = store.contains_many(keys)
    assert found == {make_key(name) for name in "abc"}
    with django_assert_num_queries(0):
        assert store.contains_many([]) == set()


def test_get_counts_hits_and_moves_last_hit(
    store: DatabaseCacheStore, django_assert_num_queries: Any
) -> None:
    store.put(make_key("a"), CacheEntry(("x",), ("STRING",), None, "test.S", 1))
    before = CacheRecord.objects.get(key=make_key("a")).last_hit
    with django_assert_num_queries(2):  # one UPDATE to touch, one SELECT to load
        store.get(make_key("a"))
    store.get(make_key("a"))
    record = CacheRecord.objects.get(key=make_key("a"))
    assert record.hit_count == 2 and record.last_hit >= before


def test_missing_key_is_none(store: DatabaseCacheStore) -> None:
    assert store.get(make_key("nothing")) is None


def test_putting_the_same_key_twice_is_harmless(
    store: DatabaseCacheStore, blob_store: LocalBlobStore
) -> None:
    store.put(make_key("a"), image_entry(seed=1))
    store.put(make_key("a"), image_entry(seed=2))  # a second worker computed the same key
    assert CacheRecord.objects.count() == 1
    loaded = store.get(make_key("a"))
    assert loaded is not None and loaded.outputs[2] == "text 1"


def test_unencodable_outputs_are_not_stored(store: DatabaseCacheStore) -> None:
    store.put(make_key("o"), CacheEntry((Opaque(),), ("MYPACK.MODEL",), None, "mypack.Load", 100))
    store.put(make_key("u"), CacheEntry((1,), ("INT",), UI(data={"x": Opaque()}), "mypack.Show", 100))
    assert store.contains_many([make_key("o"), make_key("u")]) == set()
    assert store.unencodable == 2
    assert store.get(make_key("o")) is None


def test_lying_cache_row_without_its_blobs_reads_as_a_miss_and_is_dropped(
    store: DatabaseCacheStore, blob_store: LocalBlobStore
) -> None:
    store.put(make_key("a"), image_entry())
    record = CacheRecord.objects.get(key=make_key("a"))
    blob_store.delete(record.blobs[0])
    assert store.contains_many([make_key("a")]) == {make_key("a")}
    assert store.get(make_key("a")) is None
    assert not CacheRecord.objects.filter(key=make_key("a")).exists()
    store.put(make_key("a"), image_entry())  # the recomputed result can be stored again
    assert store.get(make_key("a")) is not None


def test_tiered_store_serves_what_it_just_stored_from_memory(
    store: DatabaseCacheStore, django_assert_num_queries: Any
) -> None:
    tiered = TieredCacheStore(MemoryCache(), store)
    entry = image_entry()
    tiered.put(make_key("a"), entry)
    assert CacheRecord.objects.filter(key=make_key("a")).exists()  # written through
    with django_assert_num_queries(0):
        assert tiered.get(make_key("a")) is entry
        assert tiered.contains_many([make_key("a")]) == {make_key("a")}
    with django_assert_num_queries(1):
        assert tiered.contains_many([make_key("a"), make_key("b")]) == {make_key("a")}


def test_tiered_store_loads_from_the_shared_store_once(
    store: DatabaseCacheStore, django_assert_num_queries: Any
) -> None:
    store.put(make_key("a"), image_entry())  # stored by another worker
    tiered = TieredCacheStore(MemoryCache(), store)
    first = tiered.get(make_key("a"))
    assert first is not None
    with django_assert_num_queries(0):
        assert tiered.get(make_key("a")) is first


@pytest.mark.django_db(transaction=True)
def test_concurrent_puts_of_the_same_key_from_two_workers(blob_store: LocalBlobStore) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def worker(seed: int) -> None:
        try:
            store = DatabaseCacheStore(blob_store)
            barrier.wait()
            store.put(make_key("same"), image_entry(seed=0))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert CacheRecord.objects.count() == 1
    assert DatabaseCacheStore(blob_store).get(make_key("same")) is not None


@pytest.mark.django_db(transaction=True)
def test_engine_pool_threads_do_not_keep_database_connections(store: DatabaseCacheStore) -> None:
    store.put(make_key("a"), CacheEntry(("x",), ("STRING",), None, "test.S", 1))
    still_open: list[bool] = []

    def node_thread() -> None:
        store.contains_many([make_key("a")])
        store.get(make_key("a"))
        store.put(make_key("b"), CacheEntry(("y",), ("STRING",), None, "test.S", 1))
        still_open.append(connection.connection is not None)

    thread = threading.Thread(target=node_thread)
    thread.start()
    thread.join()
    # Django never closes an in-memory SQLite database, nor a connection whose CONN_MAX_AGE is None (the
    # embedded SQLite default keeps its connections: opening the file is the cost it saves); Postgres' close.
    wrapper = connections[DEFAULT_DB_ALIAS]
    in_memory = isinstance(wrapper, SQLiteDatabaseWrapper) and wrapper.is_in_memory_db()
    persistent = wrapper.settings_dict.get("CONN_MAX_AGE") is None
    assert still_open == [in_memory or persistent]
    assert store.contains_many([make_key("b")]) == {make_key("b")}


@pytest.mark.django_db(transaction=True)
def test_a_full_buffer_is_written_by_the_flusher_thread_and_flush_waits_for_it(
    blob_store: LocalBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The putting thread (a run's) goes on while the flusher inserts; the rows stay readable meanwhile; and
    ``flush`` (the end of a run) returns only once every row put before it is stored."""
    from backend.cache import stores

    real_insert = stores.insert_cache_records
    gate, entered = threading.Event(), threading.Event()
    inserters: list[str] = []

    def held_insert(rows: Any) -> None:
        inserters.append(threading.current_thread().name)
        entered.set()
        assert gate.wait(30), "the test never opened the gate"
        real_insert(rows)

    monkeypatch.setattr(stores, "insert_cache_records", held_insert)
    store = DatabaseCacheStore(blob_store, flush_rows=3, flush_seconds=60.0)
    keys = [make_key(f"row {index}") for index in range(4)]
    for index, key in enumerate(keys[:3]):
        store.put(key, CacheEntry((f"v{index}",), ("STRING",), None, "test.S", 1))
    # put returned with the third row although its insert is held: another thread is writing the batch.
    assert entered.wait(30) and inserters == ["flowyard-cache-flush"]
    assert not CacheRecord.objects.exists()
    assert store.contains_many(keys[:3]) == set(keys[:3])  # still answered from the buffer
    assert store.get(keys[1]).outputs == ("v1",)  # type: ignore[union-attr]
    store.put(keys[3], CacheEntry(("v3",), ("STRING",), None, "test.S", 1))

    flushed = threading.Event()

    def end_of_run() -> None:
        store.flush()
        flushed.set()
        connection.close()

    finisher = threading.Thread(target=end_of_run)
    finisher.start()
    gate.set()
    finisher.join(30)
    assert flushed.is_set()
    assert set(CacheRecord.objects.values_list("key", flat=True)) == set(keys)
    assert store.contains_many(keys) == set(keys)


@pytest.mark.django_db(transaction=True)
def test_a_flusher_behind_makes_the_putting_thread_write(
    blob_store: LocalBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from backend.cache import stores

    real_insert = stores.insert_cache_records
    inserters: list[str] = []

    def counted_insert(rows: Any) -> None:
        inserters.append(threading.current_thread().name)
        real_insert(rows)

    monkeypatch.setattr(stores, "insert_cache_records", counted_insert)
    monkeypatch.setattr(stores, "_flusher", lambda: _Idle())  # a flusher that never gets to it
    store = DatabaseCacheStore(blob_store, flush_rows=2, flush_seconds=60.0)
    for index in range(2 * stores.INLINE_FLUSH_BUFFERS):
        store.put(make_key(f"row {index}"), CacheEntry((f"v{index}",), ("STRING",), None, "test.S", 1))
    assert inserters == [threading.current_thread().name]
    assert CacheRecord.objects.count() == 2 * stores.INLINE_FLUSH_BUFFERS


class _Idle:
    def schedule(self, store: Any, delay: float) -> None:
        pass

    def cancel(self, store: Any) -> None:
        pass


def test_manifest_text_is_what_the_manifest_encoder_writes() -> None:
    """Manifests are measured and stored as ``json.dumps(manifest, separators=(",", ":"))`` wrote them."""
    import json

    from backend.cache.stores import encode_entry, manifest_text

    entries = [
        image_entry(seed=5),
        CacheEntry((1, 2.5, True, None), ("INT", "FLOAT", "BOOLEAN", "ANY"), None, "test.Prims", 32),
        CacheEntry(("é ☃", "x" * 20_000, 2**2000), ("STRING", "STRING", "INT"), None, "test.Text", 1),
        CacheEntry(({"k": [1.5, None, {"n": "ü"}]}, float("inf")), ("JSON", "FLOAT"), None, "test.J", 1),
    ]
    for entry in entries:
        manifest, _ = encode_entry(entry)
        assert manifest_text(manifest) == json.dumps(manifest, separators=(",", ":"))


def test_existing_keys_answers_as_the_orm_query(store: DatabaseCacheStore) -> None:
    """``contains_many``'s query without the ORM: the same keys as ``filter(key__in=...)``, past the
    parameter limit of one statement too."""
    from backend.cache.stores import _blobs_text, existing_keys

    stored = [make_key(f"stored {i}") for i in range(0, 2_500, 3)]
    entry = CacheEntry((1,), ("INT",), None, "test.Prims", 8)
    for key in stored:
        store.put(key, entry)
    asked = [make_key(f"stored {i}") for i in range(2_500)] + ["", "'; --", "é"]
    expected = set(CacheRecord.objects.filter(key__in=asked).values_list("key", flat=True))
    assert expected == set(stored)
    assert existing_keys(asked) == expected
    assert existing_keys(asked[:1]) == {stored[0]} and existing_keys([]) == set()
    assert store.contains_many(asked) == expected
    assert CacheRecord.objects.get(key=stored[0]).blobs == []  # "[]" written without json.dumps
    assert _blobs_text([]) == "[]" and _blobs_text(["a", "b"]) == '["a", "b"]'


# Transactional: 121 rows fill the 50-row buffer, so the flusher thread inserts on its own connection, and the
# kept row must be committed for it (inside the test's transaction the insert waited on its key forever).
@pytest.mark.django_db(transaction=True)
def test_buffered_rows_are_stored_as_put(blob_store: LocalBlobStore) -> None:
    """A batch of rows (on Postgres one JSON parameter) stores each row's manifest, blobs, size and pack as put
    measured them; a key stored already keeps its row."""
    import json

    from backend.cache.stores import encode_entry, manifest_text

    registry = default_registry()
    node_type = "PrimitiveInt"
    pack = registry.get(node_type)
    assert pack is not None
    store = DatabaseCacheStore(blob_store, registry=registry, flush_rows=50)
    entries = {
        make_key(f"row {i}"): CacheEntry(
            (i, f"é {i} '%s'", 0.1 * i), ("INT", "STRING", "FLOAT"), None, node_type, 1
        )
        for i in range(120)
    }
    entries[make_key("image")] = image_entry(seed=9)
    CacheRecord.objects.create(key=make_key("row 0"), node_type="kept", manifest={"v": 1}, blobs=[], size=1)
    for key, entry in entries.items():
        store.put(key, entry)
    store.flush()
    rows = {r.key: r for r in CacheRecord.objects.filter(key__in=list(entries))}
    assert len(rows) == len(entries) and rows[make_key("row 0")].node_type == "kept"
    for key, entry in entries.items():
        if key == make_key("row 0"):
            continue
        manifest, blobs = encode_entry(entry)
        text = manifest_text(manifest)
        row = rows[key]
        assert row.manifest == json.loads(text) and row.blobs == sorted(blobs)
        assert row.size == sum(len(data) for data in blobs.values()) + len(text)
        assert (row.node_type, row.hit_count) == (entry.node_type, 0)
        if entry.node_type == node_type:
            assert (row.pack_name, row.pack_version) == (pack.pack.name, pack.pack.version)
