"""The API docs page (Swagger UI), with the Content-Security-Policy it needs on its own response only."""

from __future__ import annotations

from urllib.parse import urlsplit

from csp.decorators import csp_update
from drf_spectacular.settings import spectacular_settings
from drf_spectacular.views import SpectacularSwaggerSplitView


def _swagger_sources() -> list[str]:
    """The origin Swagger UI's bundle comes from (a CDN by default); none when it is served from here."""
    dist = urlsplit(str(spectacular_settings.SWAGGER_UI_DIST))
    return [f"{dist.scheme}://{dist.netloc}"] if dist.scheme and dist.netloc else []


def api_docs_view():
    """Swagger UI with its start-up script served as a file (the split view), so script-src needs no
    'unsafe-inline'; the page's own <style> block does need inline styles."""
    sources = _swagger_sources()
    policy = {
        "script-src": sources,
        "style-src": ["'unsafe-inline'", *sources],
        "img-src": sources,
    }
    return csp_update(policy)(SpectacularSwaggerSplitView.as_view(url_name="api-schema"))
