"""The local directory store: layout, atomic writes, touching on re-put."""

from __future__ import annotations

import hashlib
import io
import os
import threading
import time

import pytest

from backend.storage.blobs import LocalBlobStore


def test_blobs_fan_out_into_two_levels_of_directories(local_store: LocalBlobStore) -> None:
    sha = local_store.put(b"layout")
    path = local_store.path(sha)
    assert path == local_store.root / sha[:2] / sha[2:4] / sha
    assert path.read_bytes() == b"layout"
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)


class FailingReader(io.RawIOBase):
    """Yields some data, checks that nothing is visible yet, then fails like a dropped upload."""

    def __init__(self, store: LocalBlobStore) -> None:
        self.store = store
        self.calls = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.calls += 1
        assert list(self.store.iter_shas()) == []  # the partial write is never visible as a blob
        if self.calls > 3:
            raise ConnectionError("client went away")
        return b"x" * 1000


def test_a_failed_stream_leaves_no_blob_and_no_temp_file(local_store: LocalBlobStore) -> None:
    with pytest.raises(ConnectionError):
        local_store.put_stream(FailingReader(local_store))  # type: ignore[arg-type]
    assert list(local_store.iter_shas()) == []
    assert list(local_store.tmp_dir.iterdir()) == []


def test_concurrent_puts_of_the_same_bytes_give_one_complete_blob(local_store: LocalBlobStore) -> None:
    data = os.urandom(512 * 1024)
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(local_store.put(data))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(results) == {hashlib.sha256(data).hexdigest()}
    assert local_store.read(results[0]) == data
    assert list(local_store.tmp_dir.iterdir()) == []


def test_re_putting_a_blob_touches_it(local_store: LocalBlobStore) -> None:
    sha = local_store.put(b"old")
    old = time.time() - 3600
    os.utime(local_store.path(sha), (old, old))
    assert local_store.touched_at(sha) == pytest.approx(old)
    local_store.put(b"old")
    assert local_store.touched_at(sha) > old + 3000
    os.utime(local_store.path(sha), (old, old))
    local_store.put_stream(io.BytesIO(b"old"))
    assert local_store.touched_at(sha) > old + 3000


def test_stale_temp_files_are_removed(local_store: LocalBlobStore) -> None:
    local_store.tmp_dir.mkdir(parents=True)
    stale = local_store.tmp_dir / "dead.part"
    stale.write_bytes(b"half")
    os.utime(stale, (time.time() - 7200,) * 2)
    fresh = local_store.tmp_dir / "busy.part"
    fresh.write_bytes(b"writing")
    assert local_store.remove_stale_temp_files(3600) == 1
    assert not stale.exists() and fresh.exists()
