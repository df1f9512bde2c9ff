"""Serving blobs over HTTP. The caller (a view) has already decided the user may see the blob.

Served blobs answer single byte ranges (``Range: bytes=a-b``, ``bytes=a-``, ``bytes=-n``) with 206 Partial
Content, which browsers need to seek in videos and audio (Safari will not play a video without them); an
unsatisfiable range answers 416. Several ranges in one header are answered with the whole blob (allowed by
RFC 9110). S3 blobs redirect to a presigned URL, where S3 itself answers ranges; with presigned downloads off,
the server streams them and fetches only the asked-for bytes from the bucket.
"""

from __future__ import annotations

import re

from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.utils.http import parse_etags

from backend.storage.blobs import BlobNotFound, BlobStore, check_sha, get_blob_store

PRESIGNED_SECONDS = 300
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class RangeNotSatisfiable(ValueError):
    """A byte range that starts past the end of the blob (or a suffix of zero bytes)."""


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The (first, last) inclusive byte positions a ``Range`` header asks for within ``size`` bytes.

    None: serve the whole blob (no header, a unit other than bytes, a malformed or a multi-range header).
    Raise ``RangeNotSatisfiable`` when the one range asked for lies outside the blob.
    """
    match = _RANGE.fullmatch(header.strip().replace(" ", ""))
    if match is None:
        return None
    start, end = match.groups()
    if not start:
        if not end:
            return None  # "bytes=-"
        suffix = int(end)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(header)
        return max(0, size - suffix), size - 1
    first = int(start)
    last = int(end) if end else size - 1
    if end and last < first:
        return None  # syntactically invalid: ignored
    if first >= size:
        raise RangeNotSatisfiable(header)
    return first, min(last, size - 1)


def blob_response(
    sha: str,
    filename: str,
    content_type: str,
    request: HttpRequest,
    *,
    as_attachment: bool = False,
    store: BlobStore | None = None,
) -> HttpResponseBase:
    """Return the blob as a streamed ``FileResponse`` (local store) or a redirect to a presigned URL (S3).

    Blobs never change, so the sha is a strong ETag and a matching ``If-None-Match`` answers 304. A ``Range``
    header answers 206 with just those bytes (416 if it cannot be satisfied), unless an ``If-Range`` names
    another ETag. A missing blob answers 404.
    """
    store = store or get_blob_store()
    try:
        check_sha(sha)
    except ValueError:
        raise Http404("no such blob") from None
    etag = f'"{sha}"'
    if etag in parse_etags(request.headers.get("If-None-Match", "")):
        not_modified = HttpResponse(status=304)
        not_modified["ETag"] = etag
        return not_modified
    url = store.presigned_url(sha, filename, content_type, expires=PRESIGNED_SECONDS)
    if url is not None:
        redirect = HttpResponseRedirect(url)
        redirect["Cache-Control"] = "private, no-store"
        return redirect
    try:
        size = store.size(sha)
    except BlobNotFound:
        raise Http404("no such blob") from None
    byte_range = None
    range_header = request.headers.get("Range", "")
    if range_header and request.headers.get("If-Range", etag) == etag:
        try:
            byte_range = parse_range(range_header, size)
        except RangeNotSatisfiable:
            refused = HttpResponse(status=416)
            refused["Content-Range"] = f"bytes */{size}"
            refused["Accept-Ranges"] = "bytes"
            refused["ETag"] = etag
            return refused
    try:
        handle = store.open(sha) if byte_range is None else store.open_range(sha, *byte_range)
    except BlobNotFound:
        raise Http404("no such blob") from None
    response = FileResponse(handle, content_type=content_type, as_attachment=as_attachment, filename=filename)
    if byte_range is None:
        response["Content-Length"] = str(size)
    else:
        first, last = byte_range
        response.status_code = 206
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
        response["Content-Length"] = str(last - first + 1)
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = etag
    # Private: the access check happened for this user; immutable: the bytes behind a sha never change.
    response["Cache-Control"] = "private, max-age=3600, immutable"
    response["X-Content-Type-Options"] = "nosniff"
    return response
