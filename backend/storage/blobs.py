"""The blob store: immutable bytes addressed by their sha256, in a local directory or an S3 bucket.

Writers never expose half-written blobs (local: temp file + ``os.replace``; S3: a PUT is atomic). Every ``put``,
also of a blob that already exists, marks the blob as touched now; garbage collection deletes a blob only if it
was not touched since a cut-off (``delete(sha, unless_touched_since=...)``), so a writer that reuses an existing
blob and records its reference a little later never loses it to a concurrent collection.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import io
import os
import re
import tempfile
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO, cast

CHUNK = 1024 * 1024
_SHA = re.compile(r"^[0-9a-f]{64}$")


class BlobNotFound(LookupError):
    """No blob is stored under this sha256."""


def check_sha(sha: str) -> str:
    """Return ``sha`` if it is 64 lowercase hex digits, else raise ``ValueError`` (it becomes a path or key)."""
    if not isinstance(sha, str) or not _SHA.match(sha):
        raise ValueError(f"not a sha256 hex digest: {sha!r}")
    return sha


class BlobStore(abc.ABC):
    """Content-addressed storage of immutable bytes."""

    @abc.abstractmethod
    def put(self, data: bytes) -> str:
        """Store ``data`` (a no-op apart from touching it if already stored) and return its sha256 hex."""

    @abc.abstractmethod
    def put_stream(self, fileobj: BinaryIO) -> tuple[str, int]:
        """Store everything read from ``fileobj`` in bounded memory; return (sha256 hex, size in bytes)."""

    @abc.abstractmethod
    def open(self, sha: str) -> BinaryIO:
        """Return a readable binary file of the blob; raise ``BlobNotFound`` if it is not stored."""

    def read(self, sha: str) -> bytes:
        """Return the blob's bytes; raise ``BlobNotFound`` if it is not stored."""
        with self.open(sha) as handle:
            return handle.read()

    def open_range(self, sha: str, first: int, last: int) -> BinaryIO:
        """Return a readable binary file of bytes ``first..last`` (inclusive, within the blob) of the blob; raise
        ``BlobNotFound`` if it is not stored. This default opens the blob and seeks (or skips) to ``first``."""
        handle = self.open(sha)
        if handle.seekable():
            handle.seek(first)
        else:
            skip = first
            while skip > 0:
                chunk = handle.read(min(skip, CHUNK))
                if not chunk:
                    break
                skip -= len(chunk)
        return cast(BinaryIO, LimitedReader(handle, last - first + 1))

    @abc.abstractmethod
    def exists(self, sha: str) -> bool:
        """True when the blob is stored."""

    def exists_many(self, shas: Iterable[str]) -> set[str]:
        """Return the subset of ``shas`` that is stored."""
        return {sha for sha in set(shas) if self.exists(sha)}

    @abc.abstractmethod
    def size(self, sha: str) -> int:
        """Return the blob's size in bytes; raise ``BlobNotFound`` if it is not stored."""

    @abc.abstractmethod
    def touched_at(self, sha: str) -> float:
        """Return when the blob was last written or re-put (unix time); raise ``BlobNotFound``."""

    @abc.abstractmethod
    def delete(self, sha: str, *, unless_touched_since: float | None = None) -> bool:
        """Delete the blob; with ``unless_touched_since`` keep it if touched at or after that time.

        Returns True when a blob was deleted. Deleting a missing blob is not an error.
        """

    @abc.abstractmethod
    def iter_shas(self) -> Iterator[str]:
        """Yield the sha of every stored blob (for sweeps of orphans; order unspecified)."""

    def presigned_url(self, sha: str, filename: str, content_type: str, expires: int = 300) -> str | None:
        """Return a time-limited URL a browser may fetch the blob from, or None when the server must stream it."""
        return None


class LimitedReader(io.RawIOBase):
    """At most ``limit`` bytes of ``handle`` (which it closes when closed)."""

    def __init__(self, handle: BinaryIO, limit: int) -> None:
        self.handle, self.remaining = handle, max(0, limit)

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0 or size > self.remaining:
            size = self.remaining
        data = self.handle.read(size) if size else b""
        self.remaining -= len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self.handle.close()
        super().close()


class LocalBlobStore(BlobStore):
    """Blobs as files ``root/ab/cd/<sha>``; temp files live in ``root/.tmp`` on the same file system."""

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.root = Path(root)
        self.fsync = fsync
        self.tmp_dir = self.root / ".tmp"

    def __repr__(self) -> str:
        return f"LocalBlobStore({str(self.root)!r})"

    def path(self, sha: str) -> Path:
        """Return where the blob's file is (whether or not it exists)."""
        check_sha(sha)
        return self.root / sha[:2] / sha[2:4] / sha

    def _temp_file(self) -> tuple[int, str]:
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        return tempfile.mkstemp(dir=self.tmp_dir, suffix=".part")

    def _publish(self, temp_path: str, sha: str) -> None:
        """Move a complete temp file into place, or drop it when an identical blob got there first."""
        final = self.path(sha)
        if final.exists():
            os.unlink(temp_path)
            self._touch(final)
            return
        final.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(temp_path, 0o644)
        os.replace(temp_path, final)

    def _touch(self, final: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.utime(final)

    def _write(self, fd: int, temp_path: str, chunks: Iterable[bytes]) -> tuple[str, int]:
        digest = hashlib.sha256()
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                if self.fsync:
                    os.fsync(out.fileno())
        except BaseException:
            os.unlink(temp_path)
            raise
        return digest.hexdigest(), size

    def put(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        final = self.path(sha)
        if final.exists():
            self._touch(final)
            return sha
        fd, temp_path = self._temp_file()
        self._write(fd, temp_path, [data])
        self._publish(temp_path, sha)
        return sha

    def put_stream(self, fileobj: BinaryIO) -> tuple[str, int]:
        fd, temp_path = self._temp_file()
        sha, size = self._write(fd, temp_path, iter(lambda: fileobj.read(CHUNK), b""))
        self._publish(temp_path, sha)
        return sha, size

    def open(self, sha: str) -> BinaryIO:
        try:
            return self.path(sha).open("rb")
        except FileNotFoundError:
            raise BlobNotFound(sha) from None

    def exists(self, sha: str) -> bool:
        return self.path(sha).is_file()

    def size(self, sha: str) -> int:
        try:
            return self.path(sha).stat().st_size
        except FileNotFoundError:
            raise BlobNotFound(sha) from None

    def touched_at(self, sha: str) -> float:
        try:
            return self.path(sha).stat().st_mtime
        except FileNotFoundError:
            raise BlobNotFound(sha) from None

    def delete(self, sha: str, *, unless_touched_since: float | None = None) -> bool:
        path = self.path(sha)
        try:
            if unless_touched_since is not None and path.stat().st_mtime >= unless_touched_since:
                return False
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def iter_shas(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for first in sorted(self.root.iterdir()):
            if len(first.name) != 2 or not first.is_dir():
                continue
            for second in sorted(first.iterdir()):
                if not second.is_dir():
                    continue
                for entry in second.iterdir():
                    if _SHA.match(entry.name):
                        yield entry.name

    def remove_stale_temp_files(self, older_than_seconds: float = 3600) -> int:
        """Delete temp files left by writers that died mid-write; return how many were removed."""
        if not self.tmp_dir.is_dir():
            return 0
        cutoff = time.time() - older_than_seconds
        removed = 0
        for entry in self.tmp_dir.iterdir():
            try:
                if entry.stat().st_mtime < cutoff:
                    entry.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed


class S3BlobStore(BlobStore):
    """Blobs as objects ``<prefix>ab/cd/<sha>`` in an S3 (or S3-compatible) bucket."""

    REFRESH_AFTER_SECONDS = 60
    """A re-put of an existing object refreshes its timestamp only if it is older than this (a server-side copy)."""
    SPOOL_BYTES = 8 * 1024 * 1024

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        public_endpoint_url: str | None = None,
        client: Any = None,
        presigned_downloads: bool = True,
    ) -> None:
        self.bucket = bucket
        self.presigned_downloads = presigned_downloads
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        options = {
            "region_name": region,
            "aws_access_key_id": access_key_id,
            "aws_secret_access_key": secret_access_key,
        }
        self.client = client or _s3_client(endpoint_url, **options)
        # Presigned URLs are for browsers: sign them for the public address when it differs from the internal one.
        if public_endpoint_url and public_endpoint_url != endpoint_url:
            self.signing_client = _s3_client(public_endpoint_url, **options)
        else:
            self.signing_client = self.client

    def __repr__(self) -> str:
        return f"S3BlobStore(bucket={self.bucket!r}, prefix={self.prefix!r})"

    def key(self, sha: str) -> str:
        """Return the object key of a blob."""
        check_sha(sha)
        return f"{self.prefix}{sha[:2]}/{sha[2:4]}/{sha}"

    def ensure_bucket(self) -> bool:
        """Create the bucket if it does not exist; return True if it was created."""
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
            return False
        except ClientError as exc:
            if _status(exc) != 404:
                raise
        region = self.client.meta.region_name
        if region and region != "us-east-1":
            self.client.create_bucket(
                Bucket=self.bucket, CreateBucketConfiguration={"LocationConstraint": region}
            )
        else:
            self.client.create_bucket(Bucket=self.bucket)
        return True

    def _head(self, sha: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            head: dict[str, Any] = self.client.head_object(Bucket=self.bucket, Key=self.key(sha))
            return head
        except ClientError as exc:
            if _status(exc) == 404:
                return None
            raise

    def _refresh(self, sha: str, head: dict[str, Any]) -> None:
        """Bump an existing object's timestamp (server-side copy onto itself; no bytes travel)."""
        if time.time() - head["LastModified"].timestamp() < self.REFRESH_AFTER_SECONDS:
            return
        key = self.key(sha)
        self.client.copy_object(
            Bucket=self.bucket,
            Key=key,
            CopySource={"Bucket": self.bucket, "Key": key},
            MetadataDirective="REPLACE",
            Metadata={"touched": str(int(time.time()))},
            ContentType="application/octet-stream",
        )

    def put(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        head = self._head(sha)
        if head is not None:
            self._refresh(sha, head)
            return sha
        self.client.put_object(
            Bucket=self.bucket, Key=self.key(sha), Body=data, ContentType="application/octet-stream"
        )
        return sha

    def put_stream(self, fileobj: BinaryIO) -> tuple[str, int]:
        # The key is the hash of the content, known only at the end: spool (memory, then disk) while hashing.
        digest = hashlib.sha256()
        size = 0
        with tempfile.SpooledTemporaryFile(max_size=self.SPOOL_BYTES) as spool:
            for chunk in iter(lambda: fileobj.read(CHUNK), b""):
                digest.update(chunk)
                spool.write(chunk)
                size += len(chunk)
            sha = digest.hexdigest()
            head = self._head(sha)
            if head is not None:
                self._refresh(sha, head)
                return sha, size
            spool.seek(0)
            self.client.upload_fileobj(
                spool, self.bucket, self.key(sha), ExtraArgs={"ContentType": "application/octet-stream"}
            )
        return sha, size

    def open(self, sha: str) -> BinaryIO:
        from botocore.exceptions import ClientError

        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.key(sha))
        except ClientError as exc:
            if _status(exc) == 404:
                raise BlobNotFound(sha) from None
            raise
        body: BinaryIO = response["Body"]
        return body

    def open_range(self, sha: str, first: int, last: int) -> BinaryIO:
        """Only the bytes asked for leave the bucket (``GetObject`` with ``Range``)."""
        from botocore.exceptions import ClientError

        try:
            response = self.client.get_object(
                Bucket=self.bucket, Key=self.key(sha), Range=f"bytes={first}-{last}"
            )
        except ClientError as exc:
            if _status(exc) == 404:
                raise BlobNotFound(sha) from None
            raise
        return cast(BinaryIO, LimitedReader(response["Body"], last - first + 1))

    def read(self, sha: str) -> bytes:
        handle = self.open(sha)
        try:
            return handle.read()
        finally:
            handle.close()

    def exists(self, sha: str) -> bool:
        return self._head(sha) is not None

    def exists_many(self, shas: Iterable[str]) -> set[str]:
        unique = sorted(set(shas))
        if len(unique) <= 2:
            return {sha for sha in unique if self.exists(sha)}
        with ThreadPoolExecutor(max_workers=min(8, len(unique))) as pool:
            found = pool.map(self.exists, unique)
            return {sha for sha, present in zip(unique, found, strict=True) if present}

    def size(self, sha: str) -> int:
        head = self._head(sha)
        if head is None:
            raise BlobNotFound(sha)
        return int(head["ContentLength"])

    def touched_at(self, sha: str) -> float:
        head = self._head(sha)
        if head is None:
            raise BlobNotFound(sha)
        return float(head["LastModified"].timestamp())

    def delete(self, sha: str, *, unless_touched_since: float | None = None) -> bool:
        head = self._head(sha)
        if head is None:
            return False
        if unless_touched_since is not None and head["LastModified"].timestamp() >= unless_touched_since:
            return False
        self.client.delete_object(Bucket=self.bucket, Key=self.key(sha))
        return True

    def iter_shas(self) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for item in page.get("Contents", ()):
                name = item["Key"].rsplit("/", 1)[-1]
                if _SHA.match(name):
                    yield name

    def presigned_url(self, sha: str, filename: str, content_type: str, expires: int = 300) -> str | None:
        from django.utils.http import content_disposition_header

        if not self.presigned_downloads:
            return None
        params = {
            "Bucket": self.bucket,
            "Key": self.key(sha),
            "ResponseContentType": content_type,
            "ResponseContentDisposition": content_disposition_header(False, filename),
        }
        url: str = self.signing_client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires)
        return url


def _s3_client(endpoint_url: str | None, **options: Any) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        s3={"addressing_style": "path"},
        signature_version="s3v4",
        retries={"max_attempts": 5, "mode": "standard"},
        max_pool_connections=16,
    )
    return boto3.client("s3", endpoint_url=endpoint_url or None, config=config, **options)


def _status(exc: Any) -> int:
    response = getattr(exc, "response", {}) or {}
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if status is None and response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NoSuchBucket"):
        return 404
    return int(status or 0)


def blob_store_from_settings() -> BlobStore:
    """Build the blob store the settings describe (``FLOWYARD_BLOB_BACKEND``: local or s3)."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    backend = settings.FLOWYARD_BLOB_BACKEND
    if backend == "local":
        return LocalBlobStore(settings.FLOWYARD_BLOB_DIR)
    if backend == "s3":
        if not settings.FLOWYARD_S3_BUCKET:
            raise ImproperlyConfigured("FLOWYARD_BLOB_BACKEND=s3 needs FLOWYARD_S3_BUCKET")
        return S3BlobStore(
            settings.FLOWYARD_S3_BUCKET,
            settings.FLOWYARD_S3_PREFIX,
            endpoint_url=settings.AWS_S3_ENDPOINT_URL,
            region=settings.AWS_DEFAULT_REGION,
            access_key_id=settings.AWS_ACCESS_KEY_ID,
            secret_access_key=settings.AWS_SECRET_ACCESS_KEY,
            public_endpoint_url=settings.FLOWYARD_S3_PUBLIC_ENDPOINT_URL,
            presigned_downloads=settings.FLOWYARD_S3_PRESIGNED_DOWNLOADS,
        )
    raise ImproperlyConfigured(f"FLOWYARD_BLOB_BACKEND must be 'local' or 's3', not {backend!r}")


@lru_cache(maxsize=1)
def get_blob_store() -> BlobStore:
    """The process's blob store, built once from settings (``get_blob_store.cache_clear()`` rebuilds it)."""
    return blob_store_from_settings()
