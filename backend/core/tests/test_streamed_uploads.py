"""Upload bodies parsed while they stream in (``backend/core/streamed_uploads.py``): the same form as Django's
parser, the limits while streaming, and the upload routes served through the ASGI application with it."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from django.http.multipartparser import MultiPartParser
from django.test.client import encode_multipart

from backend.accounts.actions import do_create_token
from backend.core.streamed_uploads import (
    BATCH_BYTES,
    MAX_BOUNDARY,
    FormError,
    StreamedForm,
    StreamedUploads,
    multipart_boundary,
)
from backend.uploads.models import Upload

BOUNDARY = "----flowyard-test-boundary"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}".encode()


def handmade(*parts: tuple[str, bytes]) -> bytes:
    """A multipart body from (headers, content) pairs, for parts a client library would not write."""
    out = b""
    for headers, content in parts:
        out += f"--{BOUNDARY}\r\n{headers}\r\n\r\n".encode() + content + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def django_parse(body: bytes):
    meta = {"CONTENT_TYPE": CONTENT_TYPE.decode(), "CONTENT_LENGTH": str(len(body))}
    from django.conf import settings
    from django.core.files.uploadhandler import load_handler

    handlers = [load_handler(path, None) for path in settings.FILE_UPLOAD_HANDLERS]
    return MultiPartParser(meta, io.BytesIO(body), handlers, "utf-8").parse()


def streamed_parse(body: bytes, chunk: int, declared: bool = True):
    form = StreamedForm(BOUNDARY.encode(), body_size=len(body) if declared else None)
    for start in range(0, len(body), chunk):
        form.feed(body[start : start + chunk])
    return form.finish()


def described(data, files) -> tuple[dict, dict]:
    """What a view sees of a parsed form."""
    fields = {name: data.getlist(name) for name in data}
    seen: dict[str, list[tuple]] = {}
    for name in files:
        seen[name] = []
        for file in files.getlist(name):
            file.seek(0)
            seen[name].append(
                (file.name, file.content_type, file.charset, file.content_type_extra, file.size, file.read())
            )
    return fields, seen


SAMPLES = {
    "client library": encode_multipart(
        BOUNDARY,
        {
            "workspace": "12",
            "tags": ["a", "b", "ünïcode ✓"],
            "file": SimpleUploadedFile("photo.png", os.urandom(70_000), "image/png"),
            "overwrite": "true",
        },
    ),
    "odd parts": handmade(
        (
            'Content-Disposition: form-data; name="image"; filename="C:\\Users\\me\\cat.png"\r\nContent-Type: '
            "image/png; charset=binary",
            b"\x89PNG" + b"\r\n-" * 500,
        ),  # fmt: skip
        (
            "Content-Disposition: form-data; name=\"file\"; filename*=UTF-8''na%C3%AFve%20r%C3%A9sum%C3%A9.txt",
            b"text",
        ),  # fmt: skip
        ('Content-Disposition: form-data; name="kept"; filename=""', b"a field, as Django reads it"),
        ('Content-Disposition: form-data; name="dots"; filename=".."', b"dropped too"),
        ('Content-Disposition: form-data; filename="no-name.bin"', b"no field name: dropped"),
        ('Content-Disposition: form-data; name="empty"', b""),
        ('Content-Disposition: form-data; name="crlf"', b"line one\r\nline two\r\n"),
        ('Content-Disposition: form-data; name="b64"\r\nContent-Transfer-Encoding: base64', b"aGVsbG8="),
    ),
}


@pytest.mark.parametrize("sample", SAMPLES)
@pytest.mark.parametrize("chunk", [1, 7, 4096, 1 << 30])
def test_the_form_is_the_one_djangos_parser_makes(sample, chunk, settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024  # the larger bodies go to temporary files, as Django's do
    body = SAMPLES[sample]
    assert described(*streamed_parse(body, chunk)) == described(*django_parse(body))


def test_small_bodies_stay_in_memory_and_large_ones_go_to_disk(settings):
    body = SAMPLES["client library"]
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = len(body)
    _, files = streamed_parse(body, 1000)
    assert not isinstance(files["file"], TemporaryUploadedFile)
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = len(body) - 1
    _, files = streamed_parse(body, 1000)
    assert isinstance(files["file"], TemporaryUploadedFile)
    _, files = streamed_parse(body, 1000, declared=False)  # chunked: the size is not known beforehand
    assert isinstance(files["file"], TemporaryUploadedFile)


def test_a_file_over_the_upload_limit_is_refused_as_soon_as_it_passes_it(settings):
    settings.FLOWYARD_MAX_UPLOAD_BYTES = 1000
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0
    body = encode_multipart(BOUNDARY, {"file": SimpleUploadedFile("big.bin", b"x" * 5000)})
    form = StreamedForm(BOUNDARY.encode(), body_size=len(body))
    fed = 0
    with pytest.raises(FormError) as refused:
        for start in range(0, len(body), 100):
            fed += 1
            form.feed(body[start : start + 100])
    assert refused.value.status == 413 and refused.value.field_name == "file"
    assert "at most 1,000 bytes" in str(refused.value)
    assert fed < 15  # the rest of the body was never parsed
    paths = [
        Path(file.temporary_file_path()) for file in form.opened if isinstance(file, TemporaryUploadedFile)
    ]
    assert paths and all(path.exists() for path in paths)
    form.discard()
    assert not any(path.exists() for path in paths)


def test_djangos_form_limits_apply(settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 3
    body = encode_multipart(BOUNDARY, {f"f{i}": "v" for i in range(4)})
    with pytest.raises(FormError, match="more than 3 fields") as refused:
        streamed_parse(body, 50)
    assert refused.value.status == 400
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 100
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 1
    files = {"a": SimpleUploadedFile("a.txt", b"a"), "b": SimpleUploadedFile("b.txt", b"b")}
    with pytest.raises(FormError, match="more than 1 files"):
        streamed_parse(encode_multipart(BOUNDARY, files), 50)
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    with pytest.raises(FormError, match="DATA_UPLOAD_MAX_MEMORY_SIZE"):
        streamed_parse(encode_multipart(BOUNDARY, {"big": "v" * 200}), 50)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (SAMPLES["client library"][:-200], "ended before its closing boundary"),
        (b"not a multipart body at all", "malformed"),
        (b"", "ended before its closing boundary"),
    ],
)
def test_a_malformed_or_truncated_body_is_a_400(body, message):
    with pytest.raises(FormError, match=message) as refused:
        streamed_parse(body, 10)
    assert refused.value.status == 400 and refused.value.field_name == "body"


def test_only_multipart_bodies_are_taken():
    def scope(content_type: bytes) -> dict:
        return {"headers": [(b"content-type", content_type)]}

    assert multipart_boundary(scope(CONTENT_TYPE)) == BOUNDARY.encode()
    assert multipart_boundary(scope(b'multipart/form-data; boundary="quoted"')) == b"quoted"
    assert multipart_boundary(scope(b"application/json")) is None
    for missing in (
        b"multipart/form-data",
        b"multipart/form-data; boundary=",
        b"multipart/form-data; boundary=" + b"x" * 201,
    ):
        with pytest.raises(FormError, match="needs a boundary") as refused:
            multipart_boundary(scope(missing))
        assert (refused.value.status, refused.value.field_name) == (400, "Content-Type")
    assert multipart_boundary({"headers": []}) is None


# Through the ASGI application (uvicorn's side of it): Django never parses these bodies itself.


def post(path: str, headers: list[tuple[bytes, bytes]], body: bytes, chunk: int = 64 * 1024):
    """POST ``body`` to the ASGI application in ``chunk``-byte messages; returns (status, json, chunks read)."""
    from backend.asgi import application

    scope = {"type": "http", "method": "POST", "path": path, "query_string": b"", "headers": headers,
             "http_version": "1.1", "scheme": "http", "server": ("testserver", 80), "client": ("127.0.0.1", 1)}  # fmt: skip
    pending = [body[start : start + chunk] for start in range(0, len(body), chunk)] or [b""]
    sent: list[dict] = []
    read = 0

    async def receive():
        nonlocal read
        if not pending:
            await asyncio.Event().wait()  # as a server does: the client stays until it has its answer
        read += 1
        return {"type": "http.request", "body": pending.pop(0), "more_body": bool(pending)}

    async def send(message):
        sent.append(message)

    async_to_sync(application)(scope, receive, send)
    start = next(message for message in sent if message["type"] == "http.response.start")
    payload = b"".join(
        message.get("body", b"") for message in sent if message["type"] == "http.response.body"
    )
    return start["status"], json.loads(payload), read


@pytest.fixture
def never_django_parsed(monkeypatch):
    def refuse(self):
        raise AssertionError("Django's multipart parser read an upload body")

    monkeypatch.setattr(MultiPartParser, "parse", refuse)


@pytest.fixture
def bearer(alice, team):
    _, raw = do_create_token(alice, "streamed")
    return (b"authorization", f"Bearer {raw}".encode())


def wav(seconds: float = 0.5) -> bytes:
    import wave

    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(8000)
        writer.writeframes(b"\x01\x00" * int(8000 * seconds))
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("chunked", [False, True])
def test_native_upload_streams_through_the_asgi_app(team, bearer, never_django_parsed, settings, tmp_path,
                                                    chunked):  # fmt: skip
    settings.FLOWYARD_BLOB_BACKEND = "local"
    settings.FLOWYARD_BLOB_DIR = tmp_path / "blobs"
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1000  # the file goes to a temporary file
    content = wav()
    body = encode_multipart(
        BOUNDARY, {"workspace": str(team.pk), "file": SimpleUploadedFile("take.wav", content, "audio/wav")}
    )
    headers = [bearer, (b"content-type", CONTENT_TYPE)]
    if not chunked:
        headers.append((b"content-length", str(len(body)).encode()))
    status, answer, _ = post("/api/uploads", headers, body, chunk=4096)
    assert status == 201, answer
    assert answer["name"] == "take.wav" and answer["kind"] == "audio"
    assert answer["sha256"] == hashlib.sha256(content).hexdigest()
    assert Upload.objects.get().size == len(content)


@pytest.mark.django_db(transaction=True)
def test_comfy_upload_image_streams_through_the_asgi_app(
    team, bearer, never_django_parsed, settings, tmp_path
):
    from backend.uploads.tests.conftest import png_bytes

    settings.FLOWYARD_BLOB_BACKEND = "local"
    settings.FLOWYARD_BLOB_DIR = tmp_path / "blobs"
    body = encode_multipart(
        BOUNDARY,
        {
            "image": SimpleUploadedFile("sub/dir/cat.png", png_bytes(), "image/png"),
            "type": "input",
            "overwrite": "1",
        },
    )
    headers = [bearer, (b"content-type", CONTENT_TYPE), (b"content-length", str(len(body)).encode())]
    status, answer, _ = post("/comfy/upload/image", headers, body, chunk=100)
    assert status == 200, answer
    assert answer == {"name": "cat.png", "subfolder": "", "type": "input"}
    status, answer, _ = post(
        "/comfy/upload/image", headers, body.replace(b"\r\n\r\ninput\r\n", b"\r\n\r\n../xy\r\n"), chunk=100
    )
    assert status == 400 and "error" in answer  # the view's own checks still run


@pytest.mark.parametrize(("path", "key"), [("/api/uploads", "detail"), ("/comfy/upload/image", "error")])
def test_a_multipart_body_without_a_boundary_answers_400_json(path, key):
    headers = [(b"authorization", b"Bearer not-checked-here"), (b"content-type", b"multipart/form-data")]
    status, answer, read = post(path, headers, b"--x\r\n")
    assert (status, read) == (400, 0)
    assert "needs a boundary" in answer[key] and answer["errors"][0]["field"] == "Content-Type"
    assert answer["limit"] == MAX_BOUNDARY


MALFORMED = {
    # The Content-Type names one boundary, the body uses another.
    "wrong boundary": (
        b"multipart/form-data; boundary=not-the-bodys-boundary",
        SAMPLES["client library"],
        "The multipart body is malformed",
    ),
    # The body stops inside the file part: no closing boundary ever comes.
    "truncated part": (
        CONTENT_TYPE,
        SAMPLES["client library"][:-40_000],
        "ended before its closing boundary",
    ),
    # A part header line without a colon.
    "bad part header": (
        CONTENT_TYPE,
        handmade(("no colon in this header", b"x")),
        "The multipart body is malformed",
    ),
}


@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize(("path", "key"), [("/api/uploads", "detail"), ("/comfy/upload/image", "error")])
@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_multipart_body_answers_400_json_naming_the_body(path, key, case, chunked,
                                                                    never_django_parsed):  # fmt: skip
    content_type, body, message = MALFORMED[case]
    headers = [(b"authorization", b"Bearer not-checked-here"), (b"content-type", content_type)]
    if not chunked:
        headers.append((b"content-length", str(len(body)).encode()))
    # Refused at the edge, before authentication: the database is never asked (this test has none).
    status, answer, _ = post(path, headers, body, chunk=1000)
    assert status == 400, answer
    assert message in answer[key]
    assert answer["errors"] == [{"field": "body", "message": answer["detail"]}]


def test_a_chunked_upload_over_the_body_limit_is_cut_off_with_413_naming_the_limit(settings):
    """Each file under the per-file limit, the body over the upload route's limit (the file limit + 1 MB):
    ``BodyLimitMiddleware`` cuts it off while it streams, before Django or the database sees the request."""
    from backend.uploads.handlers import MULTIPART_SLACK_BYTES

    settings.FLOWYARD_MAX_UPLOAD_BYTES = 100_000
    limit = 100_000 + MULTIPART_SLACK_BYTES
    files = {f"file{i}": SimpleUploadedFile(f"part{i}.bin", os.urandom(90_000)) for i in range(20)}
    body = encode_multipart(BOUNDARY, {"workspace": "1", **files})
    assert len(body) > limit
    headers = [(b"authorization", b"Bearer not-checked-here"), (b"content-type", CONTENT_TYPE)]
    for path in ("/api/uploads", "/comfy/upload/image"):
        status, answer, read = post(path, headers, body, chunk=10_000)
        assert status == 413, answer
        assert answer["limit"] == limit and answer["errors"][0]["field"] == "body"
        assert "FLOWYARD_MAX_UPLOAD_BYTES" in answer["detail"]
        assert (read - 1) * 10_000 <= limit < read * 10_000  # the chunk that passed it was the last one read


@pytest.mark.django_db(transaction=True)
def test_an_oversized_file_in_a_chunked_body_is_cut_off_with_413(team, bearer, settings):
    settings.FLOWYARD_MAX_UPLOAD_BYTES = 100_000
    body = encode_multipart(
        BOUNDARY, {"workspace": str(team.pk), "file": SimpleUploadedFile("big.bin", b"x" * 5_000_000)}
    )
    status, answer, read = post("/api/uploads", [bearer, (b"content-type", CONTENT_TYPE)], body, chunk=10_000)
    assert status == 413
    assert answer["errors"][0]["field"] == "file" and "at most 100,000 bytes" in answer["detail"]
    assert answer["limit"] == 100_000
    # Parsed a batch at a time: at most one batch past the limit was read of 5 MB, the rest never left the client.
    assert read * 10_000 <= 100_000 + BATCH_BYTES + 10_000
    assert not Upload.objects.exists()
    status, answer, _ = post("/comfy/upload/image", [bearer, (b"content-type", CONTENT_TYPE)],
                             body.replace(b'name="file"', b'name="image"'), chunk=10_000)  # fmt: skip
    assert status == 413 and "at most 100,000 bytes" in answer["error"] and answer["limit"] == 100_000


def test_other_routes_and_bodies_pass_through_untouched():
    seen = []

    async def inner(scope, receive, send):
        message = await receive()
        seen.append((scope["path"], "flowyard.streamed_form" in scope, message["body"]))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = StreamedUploads(inner)
    body = SAMPLES["client library"]

    async def run(path: str, content_type: bytes, method: str = "POST") -> None:
        scope = {"type": "http", "method": method, "path": path, "headers": [(b"content-type", content_type)]}

        async def receive():
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message):
            pass

        await app(scope, receive, send)

    async_to_sync(run)("/api/workflows", CONTENT_TYPE)
    async_to_sync(run)("/api/uploads", b"application/json")
    assert seen == [("/api/workflows", False, body), ("/api/uploads", False, body)]
