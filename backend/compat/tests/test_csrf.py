"""Cross-site requests on the ComfyUI routes: browser credentials (session cookie, HTTP Basic) from another site
are refused with a 403 naming the reason; our own pages, Django CSRF tokens, API tokens and scripts pass."""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from backend.compat.models import ComfyPrompt
from backend.compat.tests.conftest import IMAGE_PROMPT, png_bytes

pytestmark = pytest.mark.django_db(transaction=True)

BODY = json.dumps({"prompt": IMAGE_PROMPT})
EVIL = "https://evil.example"
STATE_CHANGING = ["/comfy/prompt", "/comfy/api/prompt", "/comfy/queue", "/comfy/interrupt", "/comfy/free",
                  "/comfy/history", "/comfy/upload/image", "/comfy/upload/mask"]  # fmt: skip


@pytest.fixture
def basic(alice, token_for):
    token = token_for(alice)
    return "Basic " + base64.b64encode(f"alice:{token}".encode()).decode()


def session(user, enforce_csrf: bool = False) -> APIClient:
    client = APIClient(enforce_csrf_checks=enforce_csrf)
    client.force_login(user)
    return client


def post_text(client, path="/comfy/prompt", **headers):
    """A form-like ``text/plain`` POST, as a page on any site can send without a preflight."""
    return client.generic("POST", path, BODY, content_type="text/plain", **headers)


@pytest.mark.parametrize("path", STATE_CHANGING)
def test_a_cross_site_post_with_the_session_cookie_is_refused(alice, path):
    answer = post_text(session(alice), path, HTTP_ORIGIN=EVIL)
    assert answer.status_code == 403
    assert answer.json() == {
        "error": f"Cross-site request refused: Origin '{EVIL}' is not this site nor in CSRF_TRUSTED_ORIGINS."
    }
    assert not ComfyPrompt.objects.exists()


@pytest.mark.parametrize("path", STATE_CHANGING)
def test_a_cross_site_post_with_basic_credentials_is_refused(basic, path):
    by_origin = post_text(APIClient(), path, HTTP_AUTHORIZATION=basic, HTTP_ORIGIN=EVIL)
    assert by_origin.status_code == 403 and f"Origin '{EVIL}'" in by_origin.json()["error"]
    by_fetch_metadata = post_text(
        APIClient(), path, HTTP_AUTHORIZATION=basic, HTTP_SEC_FETCH_SITE="cross-site"
    )
    assert by_fetch_metadata.status_code == 403
    assert "Sec-Fetch-Site: cross-site" in by_fetch_metadata.json()["error"]
    assert not ComfyPrompt.objects.exists()


def test_fetch_metadata_and_a_foreign_referer_are_refused_even_with_a_matching_token(alice):
    cross = post_text(session(alice), HTTP_SEC_FETCH_SITE="cross-site", HTTP_ORIGIN="http://testserver")
    assert cross.status_code == 403 and "Sec-Fetch-Site" in cross.json()["error"]
    referer = post_text(session(alice), HTTP_REFERER=f"{EVIL}/page")
    assert referer.status_code == 403 and f"Referer '{EVIL}/page'" in referer.json()["error"]
    null = post_text(session(alice), HTTP_ORIGIN="null")
    assert null.status_code == 403
    assert not ComfyPrompt.objects.exists()


def test_a_same_origin_browser_post_passes(alice, basic, settings):
    page = session(alice)
    browser_headers: list[dict[str, Any]] = [  # extra keyword arguments of the test client: WSGI environ keys
        {"HTTP_ORIGIN": "http://testserver", "HTTP_SEC_FETCH_SITE": "same-origin"},
        {"HTTP_ORIGIN": "http://testserver"},
        {"HTTP_REFERER": "http://testserver/comfy/"},
    ]
    for headers in browser_headers:
        answer = page.post("/comfy/prompt", {"prompt": IMAGE_PROMPT}, format="json", **headers)
        assert answer.status_code == 200, answer.content
    basic_page = post_text(APIClient(), HTTP_AUTHORIZATION=basic, HTTP_ORIGIN="http://testserver")
    assert basic_page.status_code == 200, basic_page.content
    settings.CSRF_TRUSTED_ORIGINS = ["https://studio.example"]
    trusted = page.post(
        "/comfy/prompt", {"prompt": IMAGE_PROMPT}, format="json", HTTP_ORIGIN="https://studio.example"
    )
    assert trusted.status_code == 200, trusted.content
    upload = page.post("/comfy/upload/image", {"image": SimpleUploadedFile("a.png", png_bytes(), "image/png")},
                       HTTP_ORIGIN="http://testserver")  # fmt: skip
    assert upload.status_code == 200 and upload.json()["name"] == "a.png"
    assert ComfyPrompt.objects.count() == 5


def test_a_session_without_origin_needs_djangos_csrf_token(alice):
    page = session(alice, enforce_csrf=True)
    missing = page.post("/comfy/prompt", {"prompt": IMAGE_PROMPT}, format="json")
    assert missing.status_code == 403 and missing.json()["error"].startswith("CSRF check failed: CSRF cookie")
    secret = secrets.token_hex(16)
    page.cookies["csrftoken"] = secret
    wrong = page.post("/comfy/prompt", {"prompt": IMAGE_PROMPT}, format="json", HTTP_X_CSRFTOKEN="x" * 32)
    assert wrong.status_code == 403 and "CSRF token" in wrong.json()["error"]
    ok = page.post("/comfy/prompt", {"prompt": IMAGE_PROMPT}, format="json", HTTP_X_CSRFTOKEN=secret)
    assert ok.status_code == 200, ok.content
    # The multipart field works too (the form is parsed with the upload size limit in place).
    image = SimpleUploadedFile("b.png", png_bytes(), "image/png")
    upload = page.post("/comfy/upload/image", {"image": image, "csrfmiddlewaretoken": secret})
    assert upload.status_code == 200, upload.content


def test_scripts_with_a_token_or_basic_and_no_origin_pass(alice, token_for, basic):
    token = token_for(alice)
    answers = [
        post_text(APIClient(), HTTP_AUTHORIZATION=f"Bearer {token}"),
        # A header token is never sent by a browser on its own: another site's Origin does not matter.
        post_text(APIClient(), HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_ORIGIN=EVIL),
        post_text(APIClient(), f"/comfy/t/{token}/prompt"),
        post_text(APIClient(), f"/comfy/prompt?token={token}"),
        # urllib with Basic: no Origin, no Sec-Fetch-Site, no cookie.
        post_text(APIClient(enforce_csrf_checks=True), HTTP_AUTHORIZATION=basic),
    ]
    for answer in answers:
        assert answer.status_code == 200, answer.content
    assert ComfyPrompt.objects.count() == len(answers)


def test_reads_stay_open_to_the_session(alice):
    assert session(alice, enforce_csrf=True).get("/comfy/queue", HTTP_ORIGIN=EVIL).status_code == 200
