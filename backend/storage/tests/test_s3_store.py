"""The S3 store against a real moto server: presigned URLs, bucket creation, the settings factory."""

from __future__ import annotations

import hashlib
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import override_settings

from backend.storage.blobs import LocalBlobStore, S3BlobStore, get_blob_store


def test_presigned_url_serves_the_right_bytes_with_type_and_filename(s3_store: S3BlobStore) -> None:
    data = b"\x89PNG fake image bytes"
    sha = s3_store.put(data)
    url = s3_store.presigned_url(sha, "résultat 1.png", "image/png", expires=60)
    assert url is not None and url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.read() == data
        assert response.headers["Content-Type"] == "image/png"
        assert "filename" in response.headers["Content-Disposition"]


def test_presigned_url_is_time_limited_and_signed(s3_store: S3BlobStore) -> None:
    # moto does not enforce signatures or expiry, so check what the URL asks of a real S3.
    sha = s3_store.put(b"short lived")
    url = s3_store.presigned_url(sha, "a.bin", "application/octet-stream", expires=90)
    assert url is not None
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["90"]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert urlsplit(url).path == f"/{s3_store.bucket}/{s3_store.key(sha)}"  # path-style addressing


def test_presigned_urls_can_be_signed_for_a_public_address(moto_endpoint: str) -> None:
    store = S3BlobStore(
        "any",
        endpoint_url=moto_endpoint,
        public_endpoint_url="https://files.example.com",
        access_key_id="testing",
        secret_access_key="testing",
        region="us-east-1",
    )
    url = store.presigned_url("a" * 64, "a.bin", "application/octet-stream")
    assert url is not None and url.startswith("https://files.example.com/any/")


def test_objects_live_under_the_prefix(s3_store: S3BlobStore) -> None:
    sha = s3_store.put(b"where")
    listed = s3_store.client.list_objects_v2(Bucket=s3_store.bucket)["Contents"]
    assert [item["Key"] for item in listed] == [f"blobs/{sha[:2]}/{sha[2:4]}/{sha}"]


def test_re_putting_an_old_object_refreshes_its_timestamp(s3_store: S3BlobStore) -> None:
    sha = s3_store.put(b"refresh me")
    first = s3_store.touched_at(sha)
    s3_store.REFRESH_AFTER_SECONDS = 0
    time.sleep(1.1)
    s3_store.put(b"refresh me")
    assert s3_store.touched_at(sha) > first
    assert s3_store.read(sha) == b"refresh me"


def test_ensure_bucket_command_creates_the_bucket_once(
    moto_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket = f"cmd-{hashlib.sha256(moto_endpoint.encode()).hexdigest()[:8]}-{time.time_ns()}"
    with override_settings(
        FLOWYARD_BLOB_BACKEND="s3",
        FLOWYARD_S3_BUCKET=bucket,
        AWS_S3_ENDPOINT_URL=moto_endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
    ):
        call_command("ensure_bucket")
        call_command("ensure_bucket")
        store = get_blob_store()
        assert isinstance(store, S3BlobStore) and store.bucket == bucket
        sha = store.put(b"via settings")
        assert store.read(sha) == b"via settings"
    out = capsys.readouterr().out
    assert f"bucket {bucket} created" in out and f"bucket {bucket} already exists" in out


def test_factory_builds_the_local_store_by_default(tmp_path: Path) -> None:
    with override_settings(FLOWYARD_BLOB_BACKEND="local", FLOWYARD_BLOB_DIR=tmp_path):
        store = get_blob_store()
        assert isinstance(store, LocalBlobStore) and store.root == tmp_path
        assert get_blob_store() is store
    with override_settings(FLOWYARD_BLOB_BACKEND="ftp"), pytest.raises(ImproperlyConfigured):
        get_blob_store()
    get_blob_store.cache_clear()


def test_ensure_bucket_command_refuses_a_local_store(tmp_path: Path) -> None:
    from django.core.management.base import CommandError

    with (
        override_settings(FLOWYARD_BLOB_BACKEND="local", FLOWYARD_BLOB_DIR=tmp_path),
        pytest.raises(CommandError),
    ):
        call_command("ensure_bucket")
