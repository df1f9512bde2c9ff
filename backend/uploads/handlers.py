"""An upload handler refusing request bodies over the size limit while they stream in, not after."""

from __future__ import annotations

from typing import IO, Any

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest

from backend.accounts.exceptions import ApiError

# Room for the multipart boundaries and the small form fields around the file.
MULTIPART_SLACK_BYTES = 1024 * 1024


def max_upload_bytes() -> int:
    """The largest file that may be uploaded (``FLOWYARD_MAX_UPLOAD_BYTES``)."""
    return int(settings.FLOWYARD_MAX_UPLOAD_BYTES)


def upload_too_large(size: int | None = None) -> ApiError:
    """The 413 answer for a file over the limit."""
    limit = max_upload_bytes()
    got = f" ({size:,} bytes or more)" if size else ""
    message = f"The file is too large{got}: uploads may be at most {limit:,} bytes ({limit / 1024**2:g} MB)."
    return ApiError(message, [{"field": "file", "message": message}], status_code=413)


class SizeLimitedUploadHandler(FileUploadHandler):
    """Stops reading as soon as the declared body or any file in it goes over ``FLOWYARD_MAX_UPLOAD_BYTES``;
    put before Django's handlers, which then keep small files in memory and spool the rest to disk."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.limit = max_upload_bytes()
        self.received = 0

    def handle_raw_input(
        self,
        input_data: IO[bytes],
        META: dict[str, str],
        content_length: int,
        boundary: str,
        encoding: str | None = None,
    ) -> None:
        if content_length and content_length > self.limit + MULTIPART_SLACK_BYTES:
            raise upload_too_large(content_length - MULTIPART_SLACK_BYTES)
        return None

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.limit:
            raise upload_too_large(self.received)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None
