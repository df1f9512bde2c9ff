"""Behaviour every blob store shares (local directory and S3 on a real moto server)."""

from __future__ import annotations

import hashlib
import io
import time

import pytest

from backend.storage.blobs import BlobNotFound, BlobStore


class ChunkedReader(io.RawIOBase):
    """A stream of ``total`` pseudo-random bytes that records the largest read asked of it."""

    def __init__(self, total: int, seed: int = 7) -> None:
        self.remaining = total
        self.digest = hashlib.sha256()
        self.block = hashlib.sha256(str(seed).encode()).digest() * 4096  # 128 KiB pattern
        self.largest_read = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            raise AssertionError("the store must read in bounded chunks")
        self.largest_read = max(self.largest_read, size)
        n = min(size, self.remaining, len(self.block))
        self.remaining -= n
        data = self.block[:n]
        self.digest.update(data)
        return data


def test_put_returns_the_sha256_and_is_idempotent(blob_store: BlobStore) -> None:
    data = b"hello blobs"
    sha = blob_store.put(data)
    assert sha == hashlib.sha256(data).hexdigest()
    assert blob_store.put(data) == sha
    assert blob_store.read(sha) == data
    assert blob_store.exists(sha)
    assert blob_store.size(sha) == len(data)
    assert list(blob_store.iter_shas()) == [sha]


def test_empty_blob(blob_store: BlobStore) -> None:
    sha = blob_store.put(b"")
    assert blob_store.read(sha) == b"" and blob_store.size(sha) == 0


def test_put_stream_of_several_megabytes_hashes_while_writing(blob_store: BlobStore) -> None:
    reader = ChunkedReader(5 * 1024 * 1024 + 123)
    sha, size = blob_store.put_stream(reader)  # type: ignore[arg-type]
    assert size == 5 * 1024 * 1024 + 123
    assert sha == reader.digest.hexdigest()
    assert reader.largest_read <= 1024 * 1024
    assert blob_store.size(sha) == size
    with blob_store.open(sha) as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == sha


def test_put_stream_of_existing_content_stores_it_once(blob_store: BlobStore) -> None:
    sha = blob_store.put(b"same bytes")
    assert blob_store.put_stream(io.BytesIO(b"same bytes")) == (sha, 10)
    assert list(blob_store.iter_shas()) == [sha]


def test_exists_many_returns_the_stored_subset(blob_store: BlobStore) -> None:
    stored = {blob_store.put(f"blob {i}".encode()) for i in range(4)}
    missing = {hashlib.sha256(f"missing {i}".encode()).hexdigest() for i in range(3)}
    assert blob_store.exists_many(stored | missing) == stored
    assert blob_store.exists_many([]) == set()


def test_missing_blob_raises_blob_not_found(blob_store: BlobStore) -> None:
    sha = hashlib.sha256(b"never stored").hexdigest()
    assert not blob_store.exists(sha)
    for call in (blob_store.open, blob_store.read, blob_store.size, blob_store.touched_at):
        with pytest.raises(BlobNotFound):
            call(sha)


@pytest.mark.parametrize("bad", ["../../etc/passwd", "ABCDEF" + "0" * 58, "0" * 63, "g" * 64])
def test_malformed_sha_is_refused(blob_store: BlobStore, bad: str) -> None:
    with pytest.raises(ValueError):
        blob_store.exists(bad)
    with pytest.raises(ValueError):
        blob_store.delete(bad)


def test_delete(blob_store: BlobStore) -> None:
    keep = blob_store.put(b"keep")
    gone = blob_store.put(b"gone")
    assert blob_store.delete(gone) is True
    assert not blob_store.exists(gone)
    assert blob_store.delete(gone) is False
    assert blob_store.read(keep) == b"keep"


def test_delete_keeps_a_blob_touched_since_the_cutoff(blob_store: BlobStore) -> None:
    sha = blob_store.put(b"recent")
    before = time.time() - 60
    assert blob_store.delete(sha, unless_touched_since=before) is False
    assert blob_store.exists(sha)
    assert blob_store.delete(sha, unless_touched_since=time.time() + 60) is True
    assert not blob_store.exists(sha)


def test_local_store_has_no_presigned_urls(local_store: BlobStore) -> None:
    sha = local_store.put(b"x")
    assert local_store.presigned_url(sha, "x.bin", "application/octet-stream") is None
