"""Serving blobs: streamed from a local store, redirected to a presigned URL for S3."""

from __future__ import annotations

import hashlib
import urllib.request

import pytest
from django.http import FileResponse, Http404
from django.test import RequestFactory

from backend.storage.blobs import LocalBlobStore, S3BlobStore
from backend.storage.responses import blob_response


def test_local_blob_is_streamed_with_its_type_filename_and_etag(local_store: LocalBlobStore) -> None:
    data = b"x" * 300_000
    sha = local_store.put(data)
    request = RequestFactory().get("/")
    response = blob_response(sha, "out.png", "image/png", request, store=local_store)
    assert isinstance(response, FileResponse) and response.streaming
    assert b"".join(response.streaming_content) == data
    assert response["Content-Type"] == "image/png"
    assert response["Content-Length"] == str(len(data))
    assert response["Content-Disposition"] == 'inline; filename="out.png"'
    assert response["ETag"] == f'"{sha}"'
    assert "private" in response["Cache-Control"]
    response.file_to_stream.close()  # close() would fire request_finished (a DB hook)


def test_attachment_download(local_store: LocalBlobStore) -> None:
    sha = local_store.put(b"{}")
    response = blob_response(
        sha, "data.json", "application/json", RequestFactory().get("/"), as_attachment=True, store=local_store
    )
    assert response["Content-Disposition"] == 'attachment; filename="data.json"'
    response.file_to_stream.close()


def test_matching_etag_answers_not_modified(local_store: LocalBlobStore) -> None:
    sha = local_store.put(b"cached by the browser")
    request = RequestFactory().get("/", headers={"If-None-Match": f'"{sha}"'})
    response = blob_response(sha, "a.txt", "text/plain", request, store=local_store)
    assert response.status_code == 304


@pytest.mark.parametrize("sha", [hashlib.sha256(b"missing").hexdigest(), "../etc/passwd"])
def test_missing_or_malformed_blob_is_404(local_store: LocalBlobStore, sha: str) -> None:
    with pytest.raises(Http404):
        blob_response(sha, "a.txt", "text/plain", RequestFactory().get("/"), store=local_store)


def test_s3_blob_redirects_to_a_presigned_url_that_serves_it(s3_store: S3BlobStore) -> None:
    sha = s3_store.put(b"from s3")
    response = blob_response(sha, "a.txt", "text/plain", RequestFactory().get("/"), store=s3_store)
    assert response.status_code == 302
    with urllib.request.urlopen(response["Location"], timeout=5) as fetched:
        assert fetched.read() == b"from s3"
        assert fetched.headers["Content-Type"] == "text/plain"
