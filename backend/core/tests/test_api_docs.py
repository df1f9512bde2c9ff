"""The API docs pages load Swagger UI and Redoc from this site (drf-spectacular-sidecar), so they work offline."""

from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders


class _Links(HTMLParser):
    """The src and href attributes of a page, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


def page_urls(html: str) -> list[str]:
    parser = _Links()
    parser.feed(html)
    return parser.urls


def csp(response) -> dict[str, list[str]]:
    directives = [part.split() for part in response["Content-Security-Policy"].split(";")]
    return {words[0]: words[1:] for words in directives if words}


SIDECAR = f"{settings.STATIC_URL}drf_spectacular_sidecar/"


@pytest.mark.parametrize(
    ("path", "assets"),
    [
        (
            "/api/docs/",
            {
                "swagger-ui-dist/swagger-ui-bundle.js",
                "swagger-ui-dist/swagger-ui-standalone-preset.js",
                "swagger-ui-dist/swagger-ui.css",
                "swagger-ui-dist/favicon-32x32.png",
            },
        ),
        ("/api/redoc/", {"redoc/bundles/redoc.standalone.js"}),
    ],
)
def test_api_docs_pages_load_their_scripts_and_styles_from_this_site(client, path, assets):
    response = client.get(path)
    assert response.status_code == 200
    urls = page_urls(response.content.decode())
    assert urls, f"{path} references no script or style"
    offsite = [url for url in urls if not url.startswith("/") or url.startswith("//")]
    assert offsite == [], f"{path} loads from another site: {offsite}"
    referenced = {url.removeprefix(SIDECAR) for url in urls if url.startswith(SIDECAR)}
    assert referenced == assets
    for asset in assets:
        assert finders.find(f"drf_spectacular_sidecar/{asset}"), f"static file {asset} is not installed"
        served = client.get(f"{SIDECAR}{asset}")
        assert served.status_code == 200, f"{SIDECAR}{asset} answered {served.status_code}"


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_api_docs_pages_allow_no_other_origin(client, path):
    policy = csp(client.get(path))
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
    origins = [source for sources in policy.values() for source in sources if "://" in source]
    assert origins == []


def test_swagger_ui_start_up_script_is_a_file_of_its_own(client):
    page = client.get("/api/docs/").content.decode()
    assert "<script>" not in page
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in script.content.decode()


def test_redoc_worker_may_start_from_a_blob_on_its_page_only(client):
    assert csp(client.get("/api/redoc/"))["worker-src"] == ["'self'", "blob:"]
    assert "worker-src" not in csp(client.get("/api/health"))
    assert "worker-src" not in csp(client.get("/api/docs/"))
