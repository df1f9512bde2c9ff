"""Health check and the page that hosts the editor."""

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


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


def index(request: HttpRequest) -> HttpResponse:
    built = (settings.FRONTEND_DIST / "index.html").is_file()
    return render(request, "core/placeholder.html", {"frontend_built": built})
