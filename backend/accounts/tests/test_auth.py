"""Sign-up, sessions with CSRF, API tokens and the createtoken command."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from backend.accounts.authentication import authenticate_token
from backend.accounts.models import ApiToken, User, Workspace
from backend.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def csrf_client() -> tuple[APIClient, str]:
    client = APIClient(enforce_csrf_checks=True)
    response = client.get("/api/auth/csrf")
    assert response.status_code == 200
    token = response.json()["csrf_token"]
    assert client.cookies["csrftoken"].value
    return client, token


def test_signup_creates_user_with_personal_workspace_and_logs_in():
    client, csrf = csrf_client()
    response = client.post(
        "/api/auth/signup",
        {"username": "bob", "password": PASSWORD, "email": "bob@example.com"},
        format="json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    workspace = Workspace.objects.get(personal_owner__username="bob")
    assert body["username"] == "bob"
    assert body["personal_workspace"] == {"id": workspace.pk, "slug": workspace.slug}
    assert workspace.memberships.get().role == "owner"
    assert client.get("/api/auth/me").json()["username"] == "bob"


def test_signup_without_csrf_token_is_rejected():
    client = APIClient(enforce_csrf_checks=True)
    response = client.post("/api/auth/signup", {"username": "bob", "password": PASSWORD}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not User.objects.exists()


def test_first_user_becomes_site_admin_and_later_ones_do_not(anon):
    first = anon.post("/api/auth/signup", {"username": "first", "password": PASSWORD}, format="json").json()
    second = APIClient().post("/api/auth/signup", {"username": "second", "password": PASSWORD}, format="json")
    assert first["is_site_admin"] is True
    assert second.json()["is_site_admin"] is False
    user = User.objects.get(username="first")
    assert user.is_staff and user.is_superuser


def test_signup_errors_name_the_field(anon, alice):
    response = anon.post("/api/auth/signup", {"username": "ALICE", "password": "x"}, format="json")
    assert response.status_code == 400
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"username"}
    response = anon.post("/api/auth/signup", {"username": "newbie", "password": "123"}, format="json")
    assert response.status_code == 400
    assert {error["field"] for error in response.json()["errors"]} == {"password"}


def test_login_and_logout_with_csrf_enforced(alice):
    client, csrf = csrf_client()
    wrong = client.post(
        "/api/auth/login", {"username": "alice", "password": "nope"}, format="json", HTTP_X_CSRFTOKEN=csrf
    )
    assert wrong.status_code == 400
    response = client.post(
        "/api/auth/login", {"username": "alice", "password": PASSWORD}, format="json", HTTP_X_CSRFTOKEN=csrf
    )
    assert response.status_code == 200
    assert response.json()["username"] == "alice"
    # Login rotates the CSRF token; an authenticated unsafe request without it is refused.
    assert client.post("/api/auth/logout").status_code == 403
    csrf = client.cookies["csrftoken"].value
    assert client.post("/api/auth/logout", HTTP_X_CSRFTOKEN=csrf).status_code == 204
    assert client.get("/api/auth/me").status_code == 401


def test_login_without_csrf_token_is_rejected(alice):
    client = APIClient(enforce_csrf_checks=True)
    response = client.post("/api/auth/login", {"username": "alice", "password": PASSWORD}, format="json")
    assert response.status_code == 403


def test_me_requires_authentication(anon):
    response = anon.get("/api/auth/me")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


def test_token_is_shown_once_and_stored_hashed(alice, client_for):
    client = client_for(alice)
    response = client.post("/api/tokens", {"name": "laptop"}, format="json")
    assert response.status_code == 201
    raw = response.json()["token"]
    assert raw.startswith("fy_") and response.json()["prefix"] == raw[:10]
    token = ApiToken.objects.get()
    assert raw not in (token.token_hash, token.prefix) and len(token.token_hash) == 64
    listed = client.get("/api/tokens").json()
    assert [t["name"] for t in listed] == ["laptop"] and "token" not in listed[0]


def test_valid_token_authenticates_without_csrf(alice, client_for):
    client = client_for(alice, token=True)
    client.handler.enforce_csrf_checks = True
    assert client.get("/api/auth/me").json()["username"] == "alice"
    assert client.post("/api/teams", {"name": "Scripts"}, format="json").status_code == 201
    assert ApiToken.objects.get().last_used is not None


def test_wrong_token_is_rejected(alice):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer fy_not-a-real-token")
    assert client.get("/api/auth/me").status_code == 401
    assert authenticate_token("fy_not-a-real-token") is None
    assert authenticate_token("") is None


def test_revoked_token_is_rejected(alice, client_for):
    session = client_for(alice)
    created = session.post("/api/tokens", {"name": "ci"}, format="json").json()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {created['token']}")
    assert client.get("/api/auth/me").status_code == 200
    assert session.delete(f"/api/tokens/{created['id']}").status_code == 204
    assert client.get("/api/auth/me").status_code == 401
    assert authenticate_token(created["token"]) is None
    assert session.get("/api/tokens").json() == []


def test_token_of_inactive_user_is_rejected(alice, client_for):
    client = client_for(alice, token=True)
    User.objects.filter(pk=alice.pk).update(is_active=False)
    assert client.get("/api/auth/me").status_code == 401


def test_cannot_revoke_someone_elses_token(alice, oscar, client_for):
    created = client_for(alice).post("/api/tokens", {"name": "mine"}, format="json").json()
    assert client_for(oscar).delete(f"/api/tokens/{created['id']}").status_code == 404
    assert authenticate_token(created["token"]) == alice


def test_createtoken_command_prints_a_working_token(alice):
    out = StringIO()
    call_command("createtoken", "alice", "--name", "deploy", stdout=out)
    raw = out.getvalue().strip()
    assert authenticate_token(raw) == alice
    assert ApiToken.objects.get().name == "deploy"


def test_createtoken_command_rejects_unknown_user(db):
    with pytest.raises(CommandError):
        call_command("createtoken", "nobody")


def test_users_created_outside_signup_get_a_personal_workspace(db):
    user = User.objects.create_superuser("root", "root@example.com", PASSWORD)
    assert user.personal_workspace.memberships.get().user == user
