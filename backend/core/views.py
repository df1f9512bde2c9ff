"""Health check and the single-page app that hosts the editor."""

import asyncio
from collections.abc import Callable

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from workers.runtime.packhost import sandbox

# URL prefixes that belong to the server, never to the browser app.
SERVER_PREFIXES = ("api/", "admin/", "static/", "ws/", "comfy/")
WORKER_PING_SECONDS = 0.5


def health(request: HttpRequest) -> JsonResponse:
    """``{"status": "ok"|"degraded"|"error", "checks": {name: "ok"|"local"|"error: ..."}}``.

    The database, the channel layer and the blob store are needed to serve (503 without them); with no Celery
    worker answering, the site still serves but runs wait, so the status is "degraded" (200).
    """
    checks = {
        "database": _outcome(_check_database),
        "channel_layer": _outcome(_check_channel_layer),
        "storage": _outcome(_check_storage),
        "workers": _outcome(_check_workers),
    }
    # How uploaded packs run in this process (it imports them to describe them): never a failure of the
    # site, which serves without them, but said plainly (docs/security.md).
    pack_sandbox = sandbox.status()
    checks["pack_sandbox"] = (
        "ok" if pack_sandbox["secure"] else f"{pack_sandbox['mode']}: {pack_sandbox['reason']}"
    )
    body = {"checks": checks, "pack_sandbox": pack_sandbox}
    needed = [checks[name] for name in ("database", "channel_layer", "storage")]
    if any(value.startswith("error") for value in needed):
        return JsonResponse({"status": "error", **body}, status=503)
    status = "degraded" if checks["workers"].startswith("error") else "ok"
    return JsonResponse({"status": status, **body})


def _outcome(check: Callable[[], str | None]) -> str:
    try:
        return check() or "ok"
    except Exception as exc:  # the check reports, it never raises
        return f"error: {type(exc).__name__}: {exc}"[:500]


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_channel_layer() -> str | None:
    """A message sent to a fresh channel comes back (a round trip through Redis in production); the embedded
    default's in-process layer is ``local``: nothing to reach and nothing that can be down, and a round trip
    would only queue the check behind everything else on the event loop it shares with every request."""
    from channels.layers import InMemoryChannelLayer, get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        return "error: no channel layer configured"
    if isinstance(layer, InMemoryChannelLayer):
        return "local"

    async def round_trip() -> bool:
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "health.check"})
        message = await asyncio.wait_for(layer.receive(channel), timeout=2)
        return message.get("type") == "health.check"

    return None if async_to_sync(round_trip)() else "error: the message that came back was not ours"


def _check_storage() -> None:
    """The blob store answers (a lookup of a blob that does not exist: no bytes written)."""
    from backend.storage.blobs import get_blob_store

    get_blob_store().exists("0" * 64)


def _check_workers() -> str | None:
    """``local`` for the in-process dispatcher; with Celery, at least one worker must answer a ping."""
    if settings.FLOWYARD_DISPATCHER != "celery":
        return "local"
    from backend.celery import app

    replies = app.control.ping(timeout=WORKER_PING_SECONDS)
    if not replies:
        return "error: no Celery worker answered"
    return None


@ensure_csrf_cookie
def spa(request: HttpRequest, path: str = "") -> HttpResponse:
    """Serve the built editor's index.html for every browser route; the client-side router takes over.

    The file is read on each request so that a rebuild shows up without a restart. Without a build, a
    placeholder page says how to make one.
    """
    index = settings.FRONTEND_DIST / "index.html"
    try:
        html = index.read_text(encoding="utf-8")
    except OSError:
        response = render(request, "core/placeholder.html", {"frontend_built": False})
    else:
        response = HttpResponse(html, content_type="text/html; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    return response


# Kept for callers of the old name.
index = spa
