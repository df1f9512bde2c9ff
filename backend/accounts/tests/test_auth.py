"""Sign-up, sessions with CSRF, API tokens and the createtoken command."""

from __future__ import annotations

import time
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from backend.accounts.authentication import authenticate_token
from backend.accounts.models import ApiToken, User, Workspace
from backend.accounts.views import SIGNUP_DONE
from backend.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def csrf_client() -> tuple[APIClient, str]:
    client = APIClient(enforce_csrf_checks=True)
    response = client.get("/api/auth/csrf")
    assert response.status_code == 200
    token = response.json()["csrf_token"]
    assert client.cookies["csrftoken"].value
    return client, token


def login(client: APIClient, username: str, password: str = PASSWORD, **extra):
    response = client.post(
        "/api/auth/login", {"username": username, "password": password}, format="json", **extra
    )
    assert response.status_code == 200, response.json()
    return response


def test_signup_creates_user_with_personal_workspace_then_login_signs_in():
    client, csrf = csrf_client()
    response = client.post(
        "/api/auth/signup",
        {"username": "bob", "password": PASSWORD, "email": "bob@example.com"},
        format="json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert response.status_code == 202, response.json()
    assert response.json() == {"detail": SIGNUP_DONE}
    workspace = Workspace.objects.get(personal_owner__username="bob")
    assert workspace.memberships.get().role == "owner"
    assert client.get("/api/auth/me").status_code == 401  # sign-up alone does not sign in
    body = login(client, "bob", HTTP_X_CSRFTOKEN=csrf).json()
    assert body["username"] == "bob"
    assert body["personal_workspace"] == {"id": workspace.pk, "slug": workspace.slug}
    assert client.get("/api/auth/me").json()["username"] == "bob"


def test_signup_without_csrf_token_is_rejected():
    client = APIClient(enforce_csrf_checks=True)
    response = client.post("/api/auth/signup", {"username": "bob", "password": PASSWORD}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not User.objects.exists()


def test_first_user_becomes_site_admin_and_later_ones_do_not(anon):
    for name in ("first", "second"):
        assert (
            anon.post("/api/auth/signup", {"username": name, "password": PASSWORD}, format="json").status_code
            == 202
        )
    assert login(APIClient(), "first").json()["is_site_admin"] is True
    assert login(APIClient(), "second").json()["is_site_admin"] is False
    user = User.objects.get(username="first")
    assert user.is_staff and user.is_superuser


def test_signup_answers_the_same_for_a_taken_and_a_free_username(anon, alice):
    taken = anon.post(
        "/api/auth/signup", {"username": "ALICE", "password": "another long secret"}, format="json"
    )
    free = anon.post(
        "/api/auth/signup", {"username": "newbie", "password": "another long secret"}, format="json"
    )
    assert (
        (taken.status_code, taken.json()) == (free.status_code, free.json()) == (202, {"detail": SIGNUP_DONE})
    )
    assert set(taken.cookies) == set(free.cookies)
    assert not User.objects.filter(username="ALICE").exists()
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)
    assert User.objects.filter(username="newbie").exists()


def test_signup_of_a_taken_username_fails_at_login_like_any_wrong_password(anon, alice):
    anon.post("/api/auth/signup", {"username": "alice", "password": "another long secret"}, format="json")
    response = anon.post(
        "/api/auth/login", {"username": "alice", "password": "another long secret"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "Wrong username or password."


def test_signup_errors_name_the_field(anon, alice):
    response = anon.post("/api/auth/signup", {"username": "bad name!", "password": PASSWORD}, format="json")
    assert response.status_code == 400
    assert {error["field"] for error in response.json()["errors"]} == {"username"}
    # Password errors do not depend on whether the username is taken.
    for username in ("newbie", "alice"):
        response = anon.post("/api/auth/signup", {"username": username, "password": "123"}, format="json")
        assert response.status_code == 400
        assert {error["field"] for error in response.json()["errors"]} == {"password"}
    assert not User.objects.filter(username="newbie").exists()


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short1x", "too short"),
        ("password123456", "too common"),
        ("4815162342108", "entirely numeric"),
        ("margaret.hamilton", "too similar to the username"),
    ],
)
def test_signup_refuses_weak_passwords_naming_the_field_and_the_reason(anon, password, reason):
    response = anon.post(
        "/api/auth/signup", {"username": "margaret.hamilton", "password": password}, format="json"
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert {error["field"] for error in errors} == {"password"}
    assert any(reason in error["message"] for error in errors), errors
    assert not User.objects.exists()


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


def test_a_token_revoked_by_another_process_is_refused_within_the_cache_bound(alice, client_for, monkeypatch):
    """Each process remembers a token for TOKEN_CACHE_SECONDS: a revocation it did not make itself (another
    process's, or a plain UPDATE) takes effect when that runs out; one made through its own saves, at once."""
    from django.utils import timezone

    from backend.accounts import authentication

    clock = [authentication._clock()]
    monkeypatch.setattr(authentication, "_clock", lambda: clock[0])
    created = client_for(alice).post("/api/tokens", {"name": "ci"}, format="json").json()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {created['token']}")
    assert client.get("/api/auth/me").status_code == 200
    ApiToken.objects.filter(pk=created["id"]).update(revoked_at=timezone.now())  # as another process would
    assert client.get("/api/auth/me").status_code == 200  # remembered, within the bound
    clock[0] += authentication.TOKEN_CACHE_SECONDS
    assert client.get("/api/auth/me").status_code == 401
    assert authenticate_token(created["token"]) is None

    other = client_for(alice).post("/api/tokens", {"name": "other"}, format="json").json()
    assert authenticate_token(other["token"]) == alice
    alice.is_active = False
    alice.save()  # the admin deactivates the user: forgotten at once
    assert authenticate_token(other["token"]) is None


def test_remembered_tokens_are_bounded_and_each_caller_gets_its_own_user(alice, client_for, monkeypatch):
    from cachetools import TLRUCache

    from backend.accounts import authentication

    small: TLRUCache[str, authentication._Remembered] = TLRUCache(
        maxsize=2, ttu=authentication._lifetime_end, timer=time.monotonic
    )
    monkeypatch.setattr(authentication, "_remembered", small)
    tokens = [
        client_for(alice).post("/api/tokens", {"name": f"t{i}"}, format="json").json() for i in range(3)
    ]
    for token in tokens:
        assert authenticate_token(token["token"]) == alice
    assert len(small) == 2  # the first one was dropped to make room
    first, second = authenticate_token(tokens[2]["token"]), authenticate_token(tokens[2]["token"])
    assert first == second == alice and first is not second
    assert first is not None
    first.first_name = "changed by one request"
    assert getattr(authenticate_token(tokens[2]["token"]), "first_name", None) == alice.first_name
    assert authenticate_token(tokens[0]["token"]) == alice  # dropped from memory, read again


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
