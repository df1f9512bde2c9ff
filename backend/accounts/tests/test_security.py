"""Login lockout (django-axes), security headers (CSP and friends) and the HTTPS settings.

The lockout tests run with the real configuration and only a smaller failure limit, so they stay fast.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings as django_settings
from django.test import Client
from rest_framework.test import APIClient

from backend.conftest import PASSWORD

pytestmark = pytest.mark.django_db

LIMIT = 3


@pytest.fixture(autouse=True)
def small_failure_limit(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT


def login(client, username: str, password: str, ip: str = "127.0.0.1"):
    return client.post(
        "/api/auth/login", {"username": username, "password": password}, format="json", REMOTE_ADDR=ip
    )


def assert_locked_out(response) -> None:
    assert response.status_code == 429, response.content
    body = response.json()
    minutes = round(django_settings.AXES_COOLOFF_TIME.total_seconds() / 60)
    assert body["detail"].endswith(f"Try again in {minutes} minutes.")
    assert body["retry_after"] == int(response["Retry-After"]) == minutes * 60
    assert body["errors"] == []


def test_the_right_password_is_refused_after_too_many_failures_for_the_username(alice):
    for _ in range(LIMIT - 1):
        assert login(APIClient(), "alice", "wrong password").status_code == 400
    assert_locked_out(login(APIClient(), "alice", "wrong password"))  # the failure that reaches the limit
    client = APIClient()
    assert_locked_out(login(client, "alice", PASSWORD, ip="10.0.0.9"))  # another address: still locked
    assert client.get("/api/auth/me").status_code == 401


def test_failures_from_one_address_lock_it_out_for_every_username(alice, oscar):
    for name in ("nobody", "oscar", "someone"):
        login(APIClient(), name, "wrong password", ip="10.0.0.7")
    assert_locked_out(login(APIClient(), "alice", PASSWORD, ip="10.0.0.7"))
    assert login(APIClient(), "alice", PASSWORD, ip="10.0.0.8").status_code == 200


def test_fewer_failures_than_the_limit_do_not_lock(alice):
    for _ in range(LIMIT - 1):
        assert login(APIClient(), "alice", "wrong password").status_code == 400
    assert login(APIClient(), "alice", PASSWORD).status_code == 200


def test_the_lockout_ends_after_the_cool_off(alice):
    for _ in range(LIMIT):
        login(APIClient(), "alice", "wrong password")
    assert_locked_out(login(APIClient(), "alice", PASSWORD))
    past = django_settings.AXES_COOLOFF_TIME + timedelta(seconds=1)
    for attempt in AccessAttempt.objects.all():
        AccessAttempt.objects.filter(pk=attempt.pk).update(attempt_time=attempt.attempt_time - past)
    assert login(APIClient(), "alice", PASSWORD).status_code == 200


def test_the_admin_login_is_locked_out_too(alice):
    for _ in range(LIMIT - 1):
        response = Client().post("/admin/login/", {"username": "alice", "password": "wrong password"})
        assert response.status_code == 200  # the form again, with its error
    Client().post("/admin/login/", {"username": "alice", "password": "wrong password"})
    response = Client().post("/admin/login/?next=/admin/", {"username": "alice", "password": PASSWORD})
    assert_locked_out(response)


def test_admin_failures_count_towards_the_api_lockout(alice):
    for _ in range(LIMIT):
        Client().post("/admin/login/", {"username": "alice", "password": "wrong password"})
    assert_locked_out(login(APIClient(), "alice", PASSWORD))


@pytest.mark.parametrize("path", ["/api/auth/me", "/comfy/queue"])
def test_http_basic_never_checks_account_passwords(alice, path):
    """Basic is accepted only by the ComfyUI layer, and there its password is an API token: an account password
    sent that way is refused, so Basic is no way around the login lockout."""
    credentials = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    response = APIClient().get(path, HTTP_AUTHORIZATION=f"Basic {credentials}")
    assert response.status_code == 401


# Headers


@pytest.fixture
def dist(tmp_path, settings):
    settings.FRONTEND_DIST = tmp_path
    (tmp_path / "index.html").write_text("<!doctype html><div id=root></div>", encoding="utf-8")
    return tmp_path


def csp(response) -> dict[str, list[str]]:
    directives = [part.split() for part in response["Content-Security-Policy"].split(";")]
    return {words[0]: words[1:] for words in directives if words}


@pytest.mark.parametrize("path", ["/", "/workflows/42", "/api/auth/me", "/admin/login/"])
def test_pages_and_api_answers_carry_a_strict_csp_and_security_headers(client, dist, path):
    response = client.get(path)
    policy = csp(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["style-src-attr"] == ["'unsafe-inline'"]
    assert policy["img-src"] == ["'self'", "data:", "blob:"]
    assert policy["media-src"] == ["'self'", "blob:"]
    assert policy["connect-src"] == ["'self'", "ws:", "wss:"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in response  # plain http in tests


def test_api_docs_page_widens_the_policy_for_swagger_ui_only(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<script>" not in html  # the start-up script is a file of its own
    policy = csp(response)
    # Swagger UI is served from here (backend/core/tests/test_api_docs.py)
    assert policy["script-src"] == ["'self'"]
    assert "'unsafe-inline'" in policy["style-src"]
    assert client.get("/api/docs/?script=").status_code == 200
    assert csp(client.get("/"))["script-src"] == ["'self'"]


def test_session_cookie_is_http_only_and_lax(alice):
    client = APIClient()
    response = login(client, "alice", PASSWORD)
    session = response.cookies["sessionid"]
    assert session["httponly"] and session["samesite"] == "Lax" and not session["secure"]
    csrf = response.cookies["csrftoken"]
    assert csrf["samesite"] == "Lax" and not csrf["httponly"]  # the SPA reads it


# Settings derived from the environment (a fresh interpreter each, as a deployment would start)

PROBE = (
    "import json, backend.settings as s; print(json.dumps({k: getattr(s, k) for k in ("
    "'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS', "
    "'SECURE_SSL_REDIRECT', 'AXES_FAILURE_LIMIT', 'AXES_LOCKOUT_PARAMETERS', 'FLOWYARD_PASSWORD_MIN_LENGTH')} "
    "| {'cooloff': s.AXES_COOLOFF_TIME.total_seconds(), 'img': s.CONTENT_SECURITY_POLICY['DIRECTIVES']['img-src']}))"
)


def settings_with(tmp_path, **env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWYARD_", "AWS_"))}
    clean.update(FLOWYARD_VAR_DIR=str(tmp_path), SECRET_KEY="x" * 50, **env)
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=clean, capture_output=True, text=True, check=True, timeout=60
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_plain_http_settings_by_default(tmp_path):
    values = settings_with(tmp_path)
    assert values["SESSION_COOKIE_SECURE"] is False and values["CSRF_COOKIE_SECURE"] is False
    assert values["SECURE_HSTS_SECONDS"] == 0 and values["SECURE_SSL_REDIRECT"] is False
    assert values["AXES_FAILURE_LIMIT"] == 10 and values["cooloff"] == 15 * 60
    assert values["AXES_LOCKOUT_PARAMETERS"] == ["username", "ip_address"]
    assert values["FLOWYARD_PASSWORD_MIN_LENGTH"] == 10


def test_https_setting_marks_cookies_secure_and_sends_hsts(tmp_path):
    values = settings_with(
        tmp_path, FLOWYARD_HTTPS="true", FLOWYARD_HSTS_INCLUDE_SUBDOMAINS="1", FLOWYARD_SSL_REDIRECT="1"
    )
    assert values["SESSION_COOKIE_SECURE"] is True and values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_HSTS_SECONDS"] == 365 * 24 * 3600
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True and values["SECURE_SSL_REDIRECT"] is True


def test_lockout_and_blob_origin_settings_come_from_the_environment(tmp_path):
    values = settings_with(
        tmp_path,
        FLOWYARD_LOGIN_FAILURE_LIMIT="5",
        FLOWYARD_LOGIN_COOLOFF_MINUTES="2.5",
        FLOWYARD_LOGIN_LOCKOUT_PARAMETERS="username+ip_address",
        FLOWYARD_BLOB_BACKEND="s3",
        FLOWYARD_S3_PUBLIC_ENDPOINT_URL="https://files.example.com/some/path",
    )
    assert values["AXES_FAILURE_LIMIT"] == 5 and values["cooloff"] == 150
    assert values["AXES_LOCKOUT_PARAMETERS"] == [["username", "ip_address"]]
    assert values["img"] == ["'self'", "data:", "blob:", "https://files.example.com"]


def test_secure_cookies_are_sent_over_https(alice, settings):
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_HSTS_SECONDS = 3600
    client = APIClient()
    response = client.post(
        "/api/auth/login", {"username": "alice", "password": PASSWORD}, format="json", secure=True
    )
    assert response.status_code == 200
    assert response.cookies["sessionid"]["secure"] and response.cookies["csrftoken"]["secure"]
    assert response["Strict-Transport-Security"] == "max-age=3600"


def test_admin_user_creation_applies_the_password_validators(alice):
    client = Client()
    client.force_login(alice)
    response = client.post(
        "/admin/accounts/user/add/",
        {"username": "newbie", "usable_password": "true", "password1": "12345678", "password2": "12345678"},
    )
    assert response.status_code == 200  # the form again
    errors = response.context["adminform"].form.errors["password2"]
    assert any("too short" in e for e in errors) and any("entirely numeric" in e for e in errors)
    assert not type(alice).objects.filter(username="newbie").exists()
