"""Health check and the single-page app that hosts the editor."""

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

# URL prefixes that belong to the server, never to the browser app.
SERVER_PREFIXES = ("api/", "admin/", "static/", "ws/", "comfy/")


def health(request: HttpRequest) -> JsonResponse:
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # the check reports, it never raises
        checks["database"] = f"error: {exc}"
    ok = all(value == "ok" for value in checks.values())
    return JsonResponse({"status": "ok" if ok else "error", "checks": checks}, status=200 if ok else 503)


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
