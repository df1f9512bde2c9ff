"""Request-body limits applied by the ASGI server's side of Django, before any byte reaches a view.

Django reads the whole body before middleware, authentication or a view runs, so a limit checked there comes
after the cost. ``BodyLimitMiddleware`` wraps the HTTP application: a ``Content-Length`` over the route's limit
answers 413 JSON at once without reading the body, and a body without one (chunked) is counted while it
streams and cut off as soon as it passes the limit. Limits per route:

- uploads (``/api/uploads``, ``/api/packs/upload``, ComfyUI's ``upload/image`` and ``upload/mask``): the upload
  limit plus room for the multipart envelope;
- every other route: ``FLOWYARD_MAX_REQUEST_BYTES`` (JSON documents: a workflow of up to 5 MB);
- a request without credentials (no session cookie, ``Authorization`` header or token): the tiny
  ``FLOWYARD_MAX_ANONYMOUS_REQUEST_BYTES`` (sign-up and login fit in it), so an anonymous client cannot make
  the server hold a large body before it answers 401.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

from django.conf import settings

from backend.uploads.handlers import MULTIPART_SLACK_BYTES

UPLOAD_PATHS = re.compile(
    r"^/(?:api/uploads|comfy/(?:t/[^/]+/)?(?:api/)?upload/(?:image|mask)|(?:api/)?upload/(?:image|mask))/?$"
)
PACK_UPLOAD_PATH = re.compile(r"^/api/packs/upload/?$")
COMFY_TOKEN_PATH = re.compile(r"^/comfy/t/[^/]+/")


@dataclass(frozen=True)
class BodyLimit:
    """The most bytes a request body may have, and the setting that says so (named in the 413)."""

    bytes: int
    setting: str


def _headers(scope: dict[str, Any]) -> dict[bytes, bytes]:
    return {name.lower(): value for name, value in scope.get("headers", [])}


def has_credentials(scope: dict[str, Any]) -> bool:
    """True when the request carries something that may sign it in (checked later, by the view)."""
    headers = _headers(scope)
    if headers.get(b"authorization"):
        return True
    if COMFY_TOKEN_PATH.match(scope.get("path", "")) or b"token=" in scope.get("query_string", b""):
        return True
    cookie = headers.get(b"cookie")
    if cookie:
        try:
            jar = SimpleCookie(cookie.decode("latin-1"))
        except Exception:  # a malformed cookie header signs nobody in
            return False
        return settings.SESSION_COOKIE_NAME in jar
    return False


def body_limit(scope: dict[str, Any]) -> BodyLimit:
    """The body limit of this request's route and credentials."""
    path = scope.get("path", "")
    if not has_credentials(scope):
        return BodyLimit(
            settings.FLOWYARD_MAX_ANONYMOUS_REQUEST_BYTES, "FLOWYARD_MAX_ANONYMOUS_REQUEST_BYTES"
        )
    if UPLOAD_PATHS.match(path):
        return BodyLimit(
            settings.FLOWYARD_MAX_UPLOAD_BYTES + MULTIPART_SLACK_BYTES, "FLOWYARD_MAX_UPLOAD_BYTES"
        )
    if PACK_UPLOAD_PATH.match(path):
        from backend.registry.validation import server_limits

        return BodyLimit(server_limits().max_archive_bytes + MULTIPART_SLACK_BYTES, "pack max_archive_bytes")
    return BodyLimit(settings.FLOWYARD_MAX_REQUEST_BYTES, "FLOWYARD_MAX_REQUEST_BYTES")


def too_large_body(limit: BodyLimit, size: int | None) -> dict[str, Any]:
    """The 413 payload: the API's error shape naming the body, its size and the limit."""
    got = f" ({size:,} bytes)" if size is not None else ""
    message = (
        f"The request body is too large{got}: this route accepts at most {limit.bytes:,} bytes "
        f"({limit.setting})."
    )
    if limit.setting == "FLOWYARD_MAX_ANONYMOUS_REQUEST_BYTES":
        message += " Sign in first: requests without credentials may only carry small bodies."
    return {"detail": message, "errors": [{"field": "body", "message": message}], "limit": limit.bytes}


# ASGI, loosely: a scope and its messages are dicts (asgiref.typing's TypedDicts are stricter than this code needs).
Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def send_json(
    send: Send, status: int, body: dict[str, Any], headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    """Answers a whole JSON response, closing the connection (the unread body is not wanted)."""
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class BodyLimitMiddleware:
    """ASGI middleware: 413 JSON for a body over its route's limit, from ``Content-Length`` before reading it,
    or as soon as a streamed body passes it (the application then sees a disconnect and stops)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = body_limit(scope)
        declared_header = _headers(scope).get(b"content-length")
        declared: int | None = None
        if declared_header is not None:
            try:
                declared = int(declared_header)
            except ValueError:
                declared = -1
            if declared < 0:
                message = "Content-Length is not a non-negative integer."
                return await send_json(send, 400, {"detail": message, "errors": [{"field": "Content-Length",
                                                                                   "message": message}]})  # fmt: skip
            if declared > limit.bytes:
                return await send_json(send, 413, too_large_body(limit, declared))

        received = 0
        over = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit.bytes:
                    # Django stops reading at a disconnect (RequestAborted) and answers nothing: we answer.
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, limited_receive, tracking_send)
        if over and not started:
            await send_json(send, 413, too_large_body(limit, received))
