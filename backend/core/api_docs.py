"""The API docs pages, Swagger UI (/api/docs/) and Redoc (/api/redoc/), with their scripts and styles served from
this site (drf-spectacular-sidecar's static files, SPECTACULAR_SETTINGS "SIDECAR"), so they work without internet
access. Each page widens the Content-Security-Policy for its own response only, and to no other origin."""

from __future__ import annotations

from collections.abc import Callable

from csp.decorators import csp_update
from django.http.response import HttpResponseBase
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView


def api_docs_view() -> Callable[..., HttpResponseBase]:
    """Swagger UI with its start-up script served as a file (the split view), so script-src needs no
    'unsafe-inline'; the page's own <style> block does need inline styles."""
    policy = {"style-src": ["'unsafe-inline'"]}
    return csp_update(policy)(SpectacularSwaggerSplitView.as_view(url_name="api-schema"))


class RedocView(SpectacularRedocView):
    """Redoc from a template of our own: drf-spectacular's loads its fonts from Google."""

    template_name = "core/redoc.html"


def api_redoc_view() -> Callable[..., HttpResponseBase]:
    """Redoc: its styled components insert <style> elements, and its search index runs in a worker it creates
    from a blob: URL."""
    policy = {"style-src": ["'unsafe-inline'"], "worker-src": ["'self'", "blob:"]}
    return csp_update(policy)(RedocView.as_view(url_name="api-schema"))
