"""Serving blobs: streamed from a local store, redirected to a presigned URL for S3."""

from __future__ import annotations

import hashlib
import urllib.request
from collections.abc import Iterator

import pytest
from django.http import FileResponse, Http404
from django.http.response import HttpResponseBase
from django.test import RequestFactory

from backend.storage.blobs import BlobStore, LocalBlobStore, S3BlobStore
from backend.storage.responses import RangeNotSatisfiable, blob_response, parse_range


def _drain(response: FileResponse) -> bytes:
    """The streamed body; the file is closed directly, since close() would fire request_finished (a DB hook)."""
    content = response.streaming_content
    assert isinstance(content, Iterator)
    body = b"".join(content)
    assert response.file_to_stream is not None
    response.file_to_stream.close()
    return body


def test_local_blob_is_streamed_with_its_type_filename_and_etag(local_store: LocalBlobStore) -> None:
    data = b"x" * 300_000
    sha = local_store.put(data)
    request = RequestFactory().get("/")
    response = blob_response(sha, "out.png", "image/png", request, store=local_store)
    assert isinstance(response, FileResponse) and response.streaming
    assert _drain(response) == data
    assert response["Content-Type"] == "image/png"
    assert response["Content-Length"] == str(len(data))
    assert response["Content-Disposition"] == 'inline; filename="out.png"'
    assert response["ETag"] == f'"{sha}"'
    assert "private" in response["Cache-Control"]


def test_attachment_download(local_store: LocalBlobStore) -> None:
    sha = local_store.put(b"{}")
    response = blob_response(
        sha, "data.json", "application/json", RequestFactory().get("/"), as_attachment=True, store=local_store
    )
    assert response["Content-Disposition"] == 'attachment; filename="data.json"'
    assert isinstance(response, FileResponse)
    _drain(response)


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


DATA = bytes(range(256)) * 40  # 10240 bytes, each position's value known


@pytest.fixture(params=["local", "s3"])
def served_store(request: pytest.FixtureRequest) -> BlobStore:
    """A store whose blobs the server streams itself: the local one, and S3 with presigned downloads off."""
    if request.param == "local":
        store: BlobStore = request.getfixturevalue("local_store")
        return store
    s3: S3BlobStore = request.getfixturevalue("s3_store")
    s3.presigned_downloads = False
    return s3


def _get(store: BlobStore, **headers: str) -> tuple[HttpResponseBase, bytes]:
    sha = store.put(DATA)
    response = blob_response(
        sha, "clip.mp4", "video/mp4", RequestFactory().get("/", headers=headers), store=store
    )
    body = b""
    if isinstance(response, FileResponse):
        body = _drain(response)
    return response, body


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-1", 0, 1),  # Safari's first probe
        ("bytes=100-299", 100, 299),
        ("bytes=10000-", 10000, 10239),
        ("bytes=-40", 10200, 10239),
        ("bytes=10200-99999", 10200, 10239),  # an end past the blob is cut to it
        ("bytes=-99999", 0, 10239),
    ],
)
def test_a_byte_range_answers_206_with_just_those_bytes(
    served_store: BlobStore, header: str, first: int, last: int
) -> None:
    response, body = _get(served_store, Range=header)
    assert response.status_code == 206
    assert body == DATA[first : last + 1]
    assert response["Content-Range"] == f"bytes {first}-{last}/{len(DATA)}"
    assert response["Content-Length"] == str(last - first + 1)
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Type"] == "video/mp4"


@pytest.mark.parametrize("header", ["bytes=10240-", "bytes=20000-20010", "bytes=-0"])
def test_a_range_outside_the_blob_answers_416(served_store: BlobStore, header: str) -> None:
    response, body = _get(served_store, Range=header)
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(DATA)}"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Range": "bytes=5-2"},  # malformed: ignored
        {"Range": "items=0-1"},
        {"Range": "bytes=0-1,5-6"},  # several ranges: the whole blob
        {"Range": "bytes=0-1", "If-Range": '"0000"'},  # the client's copy is another blob
    ],
)
def test_without_a_usable_range_the_whole_blob_is_served(
    served_store: BlobStore, headers: dict[str, str]
) -> None:
    response, body = _get(served_store, **headers)
    assert response.status_code == 200 and body == DATA
    assert response["Content-Length"] == str(len(DATA))
    assert response["Accept-Ranges"] == "bytes"


def test_if_range_with_the_blob_etag_keeps_the_range(local_store: LocalBlobStore) -> None:
    sha = hashlib.sha256(DATA).hexdigest()
    response, body = _get(local_store, Range="bytes=1-2", **{"If-Range": f'"{sha}"'})
    assert response.status_code == 206 and body == DATA[1:3]


@pytest.mark.parametrize("header", ["bytes=0-", "bytes=-5", "bytes=0-0"])
def test_no_range_of_an_empty_blob_is_satisfiable(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 0)


def test_presigned_s3_urls_answer_ranges_themselves(s3_store: S3BlobStore) -> None:
    sha = s3_store.put(DATA)
    response = blob_response(sha, "clip.mp4", "video/mp4", RequestFactory().get("/"), store=s3_store)
    assert response.status_code == 302
    request = urllib.request.Request(response["Location"], headers={"Range": "bytes=100-199"})
    with urllib.request.urlopen(request, timeout=5) as fetched:
        assert fetched.status == 206 and fetched.read() == DATA[100:200]
        assert fetched.headers["Content-Range"] == f"bytes 100-199/{len(DATA)}"
