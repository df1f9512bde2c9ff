"""Upload bodies parsed while they stream in, off the event loop, before Django sees the request.

Django's ASGI handler reads a whole request body on the event loop, writing it to a temporary file (64 KB at a
time, blocking on the disk while every other request and websocket of the process waits), and parses the
multipart form later, from that file, in the view's thread. ``StreamedUploads`` takes the upload routes'
``multipart/form-data`` bodies instead: the event loop only gathers the body's messages into batches of
``BATCH_BYTES``, and a thread of its own parses each batch (``python-multipart``, which finds the boundaries with
``bytes.find``) and writes the file parts straight to their temporary files. Django then gets a request whose
``POST`` and ``FILES`` are already filled (``StreamedFormRequest``): the views (native ``/api/uploads``, DRF's
``MultiPartParser``; ComfyUI's ``upload/image``, ``request.FILES``) work unchanged.

Limits: a file part over ``FLOWYARD_MAX_UPLOAD_BYTES`` answers 413 as soon as it passes the limit (the rest of
the body is not read); the body's own limit stays ``BodyLimitMiddleware``'s, outside this one (413 from
``Content-Length`` before a byte is read, or as a chunked body passes it); Django's
``DATA_UPLOAD_MAX_NUMBER_FIELDS``, ``DATA_UPLOAD_MAX_NUMBER_FILES`` and ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (the
form fields' bytes) apply as in Django's parser, answering 400. Memory: one batch per upload, the file parts
go to disk (in memory only when the whole body is at most ``FILE_UPLOAD_MAX_MEMORY_SIZE``, as Django does).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import InMemoryUploadedFile, TemporaryUploadedFile, UploadedFile
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, QueryDict
from django.http.multipartparser import MultiPartParser
from django.utils.datastructures import MultiValueDict
from django.utils.encoding import force_str
from django.utils.http import parse_header_parameters
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser

from backend.core.body_limits import UPLOAD_PATHS, ASGIApp, Message, Receive, Scope, Send, send_json

# The scope key carrying the parsed form to ``StreamedFormRequest``.
FORM_KEY = "flowyard.streamed_form"
# Body bytes gathered on the event loop before a thread parses and writes them: few hops, bounded memory.
BATCH_BYTES = 1024 * 1024
# Threads parsing and writing upload bodies (each upload's batches run one after another, in order).
UPLOAD_THREADS = 4
_EXECUTOR = ThreadPoolExecutor(max_workers=UPLOAD_THREADS, thread_name_prefix="flowyard-upload")


def _start_threads() -> None:
    """Start the upload threads with the process, not on the event loop at the first uploads (which would wait
    for each new thread to run)."""
    barrier = threading.Barrier(UPLOAD_THREADS)
    for future in [_EXECUTOR.submit(barrier.wait, 10) for _ in range(UPLOAD_THREADS)]:
        future.result()


_start_threads()
MAX_BOUNDARY = 200  # RFC 2046 allows 70; python-multipart takes up to 256
COMFY_PATH = re.compile(r"^/(?:comfy/|(?:api/)?upload/)")


class FormError(Exception):
    """A body refused while it streamed: the status and the API's error shape naming the field, and the limit
    it passed (``limit``, as the body-size 413 of ``BodyLimitMiddleware`` names it) where one was passed."""

    def __init__(self, status: int, field_name: str, message: str, limit: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field_name = field_name
        self.limit = limit

    def payload(self, comfy: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "detail": str(self),
            "errors": [{"field": self.field_name, "message": str(self)}],
        }
        if self.limit is not None:
            body["limit"] = self.limit
        if comfy:
            body["error"] = str(self)  # ComfyUI's clients read "error"
        return body


def _sanitize_file_name(name: str) -> str | None:
    """Django's rule for a client's file name (no directories, printable characters only)."""
    return MultiPartParser.sanitize_file_name(None, name)  # type: ignore[arg-type]  # uses no state


@dataclass
class _Part:
    headers: dict[str, tuple[str, dict[str, bytes]]] = field(default_factory=dict)
    name: str | None = None
    file: UploadedFile | None = None
    base64: bool = False
    data: list[bytes] = field(default_factory=list)
    size: int = 0
    skip: bool = False


class StreamedForm:
    """A ``multipart/form-data`` body parsed as it is fed, into Django's ``QueryDict`` and uploaded files.

    Not thread-safe: feed it from one thread at a time (``StreamedUploads`` runs its batches in order).
    """

    def __init__(self, boundary: bytes, *, body_size: int | None, encoding: str | None = None) -> None:
        self.encoding = encoding or settings.DEFAULT_CHARSET
        # Django keeps the files of a small body in memory and spools the others (its default handlers).
        self.in_memory = body_size is not None and body_size <= settings.FILE_UPLOAD_MAX_MEMORY_SIZE
        self.file_limit = int(settings.FLOWYARD_MAX_UPLOAD_BYTES)
        self.data = QueryDict(mutable=True, encoding=self.encoding)
        self.files: MultiValueDict[str, UploadedFile] = MultiValueDict()
        self.opened: list[UploadedFile] = []
        self.fields = 0
        self.file_count = 0
        self.field_bytes = 0
        self.ended = False
        self.part = _Part()
        self._header_field: list[bytes] = []
        self._header_value: list[bytes] = []
        self.parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field_data,
                "on_header_value": self._header_value_data,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
                "on_end": self._end,
            },
        )

    # Feeding.

    def feed(self, *chunks: bytes) -> None:
        """Parse the next bytes of the body; raises ``FormError`` for a body or part that is refused."""
        try:
            for data in chunks:
                if self.ended:
                    return  # the epilogue after the closing boundary
                self.parser.write(data)
        except MultipartParseError as exc:
            raise FormError(400, "body", f"The multipart body is malformed: {exc}.") from None

    def finish(self) -> tuple[QueryDict, MultiValueDict[str, UploadedFile]]:
        """The parsed fields and files, once the whole body was fed; a body cut short is refused."""
        if not self.ended:
            raise FormError(400, "body", "The multipart body ended before its closing boundary.")
        self.data._mutable = False  # as Django's parser leaves request.POST
        return self.data, self.files

    def discard(self) -> None:
        """Close (and so delete) every file opened so far: the body was refused or the client went away."""
        for file in self.opened:
            with contextlib.suppress(OSError):
                file.close()

    # Parser callbacks (the spelling of Django's ``MultiPartParser`` for each decision).

    def _part_begin(self) -> None:
        self.part = _Part()

    def _header_field_data(self, data: bytes, start: int, end: int) -> None:
        self._header_field.append(data[start:end])

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value.append(data[start:end])

    def _header_end(self) -> None:
        line = b"".join(self._header_field) + b": " + b"".join(self._header_value)
        self._header_field.clear()
        self._header_value.clear()
        try:
            main, params = parse_header_parameters(line.decode())
            name, value = main.split(":", 1)
            encoded = {key: param.encode() for key, param in params.items()}  # bytes, as Django keeps them
        except ValueError:  # Django skips a header it cannot read
            return
        self.part.headers[name] = (value, encoded)

    def _headers_finished(self) -> None:
        part = self.part
        disposition = part.headers.get("content-disposition", ("", {}))[1]
        is_file = bool(disposition.get("filename"))  # Django: an empty file name makes a field
        if not is_file:
            self.fields += 1
            limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
            if limit is not None and self.fields > limit:
                raise FormError(400, "body", f"The form has more than {limit:,} fields.", limit)
        if not disposition.get("name", b"").strip():
            part.skip = True
            return
        part.name = force_str(disposition["name"].strip(), self.encoding, errors="replace")
        encoding = part.headers.get("content-transfer-encoding")
        part.base64 = encoding is not None and encoding[0].strip() == "base64"
        if not is_file:
            return
        self.file_count += 1
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        if limit is not None and self.file_count > limit:
            raise FormError(400, "body", f"The form has more than {limit:,} files.", limit)
        file_name = _sanitize_file_name(force_str(disposition["filename"], self.encoding, errors="replace"))
        if not file_name:
            part.skip = True  # Django ignores a file part without a usable name
            return
        if part.base64:
            raise FormError(400, part.name, "Content-Transfer-Encoding is not supported for files.")
        content_type, extra = part.headers.get("content-type", ("", {}))
        content_type = content_type.strip()
        # Django hands views the charset as the bytes it parsed (its stubs say str).
        charset: Any = extra.get("charset")
        if self.in_memory:
            part.file = InMemoryUploadedFile(BytesIO(), part.name, file_name, content_type, 0, charset, extra)
        else:
            part.file = TemporaryUploadedFile(file_name, content_type, 0, charset, extra)
        self.opened.append(part.file)

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        part = self.part
        if part.skip:
            return
        part.size += end - start
        if part.file is not None:
            if part.size > self.file_limit:
                from backend.uploads.handlers import upload_too_large  # imported once Django is set up

                too_large = upload_too_large(part.size)
                raise FormError(413, part.name or "file", too_large.payload["detail"], self.file_limit)
            part.file.write(memoryview(data)[start:end])
            return
        self.field_bytes += end - start
        self._check_field_bytes()
        part.data.append(data[start:end])

    def _part_end(self) -> None:
        part = self.part
        if part.skip or part.name is None:
            return
        if part.file is not None:
            part.file.seek(0)
            part.file.size = part.size
            self.files.appendlist(part.name, part.file)
            return
        raw = b"".join(part.data)
        if part.base64:
            with contextlib.suppress(binascii.Error):
                raw = base64.b64decode(raw)
        self.field_bytes += len(part.name) + 2  # Django counts '&=' around each field
        self._check_field_bytes()
        self.data.appendlist(part.name, force_str(raw, self.encoding, errors="replace"))

    def _check_field_bytes(self) -> None:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and self.field_bytes > limit:
            message = f"The form's fields are over {limit:,} bytes (DATA_UPLOAD_MAX_MEMORY_SIZE)."
            raise FormError(400, "body", message, limit)

    def _end(self) -> None:
        self.ended = True


def multipart_boundary(scope: Scope) -> bytes | None:
    """The boundary of a ``multipart/form-data`` request, or None for any other body; ``FormError`` (400) for
    a multipart body without a usable one (Django answered that with an HTML page on the ComfyUI route)."""
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-type":
            try:
                content_type, params = parse_header_parameters(value.decode("latin-1"))
            except ValueError:
                return None
            if content_type.lower() != "multipart/form-data":
                return None
            boundary = params.get("boundary", "")
            if not 0 < len(boundary) <= MAX_BOUNDARY:
                message = f"A multipart/form-data body needs a boundary of 1 to {MAX_BOUNDARY} characters."
                raise FormError(400, "Content-Type", message, MAX_BOUNDARY)
            return boundary.encode("latin-1")
    return None


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            with contextlib.suppress(ValueError):
                return int(value)
    return None


class StreamedUploads:
    """ASGI middleware: the upload routes' multipart bodies parsed in a thread while they stream in."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        boundary = None
        if (
            scope["type"] == "http"
            and scope.get("method") == "POST"
            and UPLOAD_PATHS.match(scope.get("path", ""))
        ):
            try:
                boundary = multipart_boundary(scope)
            except FormError as exc:
                return await send_json(send, exc.status, exc.payload(bool(COMFY_PATH.match(scope["path"]))))
        if boundary is None:
            return await self.app(scope, receive, send)

        loop = asyncio.get_running_loop()
        form = StreamedForm(boundary, body_size=_declared_length(scope))
        received = 0
        try:
            batch: list[bytes] = []
            pending = 0
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    # The client went away, or BodyLimitMiddleware cut the body off (it answers the 413).
                    await loop.run_in_executor(_EXECUTOR, form.discard)
                    return
                body = message.get("body", b"")
                if body:
                    batch.append(body)
                    pending += len(body)
                    received += len(body)
                more = message.get("more_body", False)
                if pending >= BATCH_BYTES or (not more and batch):
                    # The thread takes the messages as they came: no copy on the event loop.
                    chunks, batch, pending = batch, [], 0
                    await loop.run_in_executor(_EXECUTOR, form.feed, *chunks)
                if not more:
                    break
            data, files = form.finish()
        except FormError as exc:
            await loop.run_in_executor(_EXECUTOR, form.discard)
            comfy = bool(COMFY_PATH.match(scope.get("path", "")))
            return await send_json(send, exc.status, exc.payload(comfy))
        except BaseException:
            await asyncio.shield(loop.run_in_executor(_EXECUTOR, form.discard))
            raise

        # Django reads an empty body and finds the form parsed; Content-Length says what was read (a chunked
        # body had none, and DRF reads no form from a request without one).
        headers = [
            (name, value) for name, value in scope.get("headers", []) if name.lower() != b"content-length"
        ]
        inner_scope = {**scope, "headers": [*headers, (b"content-length", str(received).encode())],
                       FORM_KEY: (data, files)}  # fmt: skip
        delivered = False

        async def inner_receive() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": b"", "more_body": False}
            return await receive()  # waits for the client to go away

        try:
            await self.app(inner_scope, inner_receive, send)
        finally:
            await asyncio.shield(loop.run_in_executor(_EXECUTOR, form.discard))


class StreamedFormRequest(ASGIRequest):
    """Django's ASGI request, with ``POST`` and ``FILES`` taken from a form ``StreamedUploads`` parsed."""

    def __init__(self, scope: Scope, body_file: Any) -> None:
        super().__init__(scope, body_file)
        form = scope.get(FORM_KEY)
        self.streamed_form = form is not None
        if form is not None:
            self._post, self._files = form
            self._read_started = True  # the body was read: DRF then takes request.POST and request.FILES

    @property
    def upload_handlers(self) -> list[Any]:
        return HttpRequest.upload_handlers.fget(self)  # type: ignore[attr-defined]

    @upload_handlers.setter
    def upload_handlers(self, handlers: list[Any]) -> None:
        if self.streamed_form:
            # Views add their size-limiting handler before anything parses: here the form was parsed at the
            # edge under the same limit, so the handlers have nothing left to do.
            self._upload_handlers = handlers
            return
        HttpRequest.upload_handlers.fset(self, handlers)  # type: ignore[attr-defined]
