"""Serving blobs over HTTP. The caller (a view) has already decided the user may see the blob."""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.http import parse_etags

from backend.storage.blobs import BlobNotFound, BlobStore, check_sha, get_blob_store

PRESIGNED_SECONDS = 300


def blob_response(
    sha: str,
    filename: str,
    content_type: str,
    request: HttpRequest,
    *,
    as_attachment: bool = False,
    store: BlobStore | None = None,
) -> HttpResponse:
    """Return the blob as a streamed ``FileResponse`` (local store) or a redirect to a presigned URL (S3).

    Blobs never change, so the sha is a strong ETag and a matching ``If-None-Match`` answers 304. A missing blob
    answers 404.
    """
    store = store or get_blob_store()
    try:
        check_sha(sha)
    except ValueError:
        raise Http404("no such blob") from None
    etag = f'"{sha}"'
    if etag in parse_etags(request.headers.get("If-None-Match", "")):
        response = HttpResponse(status=304)
        response["ETag"] = etag
        return response
    url = store.presigned_url(sha, filename, content_type, expires=PRESIGNED_SECONDS)
    if url is not None:
        redirect = HttpResponseRedirect(url)
        redirect["Cache-Control"] = "private, no-store"
        return redirect
    try:
        handle = store.open(sha)
    except BlobNotFound:
        raise Http404("no such blob") from None
    response = FileResponse(handle, content_type=content_type, as_attachment=as_attachment, filename=filename)
    response["ETag"] = etag
    # Private: the access check happened for this user; immutable: the bytes behind a sha never change.
    response["Cache-Control"] = "private, max-age=3600, immutable"
    response["X-Content-Type-Options"] = "nosniff"
    return response
