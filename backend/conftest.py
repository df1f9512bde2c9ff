"""Shared fixtures: a team owned by alice with one member per role, an outsider, and API clients.

alice  owner of team "Studio"       adam   admin
eddie  editor                       rita   runner
vera   viewer                       oscar  outsider (member of nothing but his own workspace)
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from backend.accounts.actions import do_add_member, do_create_team, do_create_token, do_create_user
from backend.accounts.roles import Role

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session", autouse=True)
def flush_by_delete():
    """Transactional tests empty the database after each test with DELETEs instead of Django's one TRUNCATE of
    every table: TRUNCATE recreates each table's files (0.5-1 s a test for ~50 nearly empty tables, about a
    hundred times the DELETEs). The same rows go, in one transaction (Django's foreign keys are checked at commit);
    sequences are not reset either way."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    truncate = DatabaseOperations.sql_flush

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if reset_sequences or allow_cascade:
            return truncate(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        return [f"DELETE FROM {self.quote_name(table)};" for table in tables]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DatabaseOperations, "sql_flush", sql_flush)
        yield


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def background_work_ends_first(request, settings, monkeypatch):
    """Runs on the embedded dispatcher's threads and the queue-positions pass finish before the test's database
    is emptied: a thread still reading or writing then deadlocks with the flush's TRUNCATE (seen in CI) or
    writes rows into the next test. Set up after the database and before the settings and patches the runs
    see, so torn down before all of them."""
    if "transactional_db" in request.fixturenames or "live_server" in request.fixturenames:
        request.getfixturevalue("transactional_db")
    yield
    from backend.runs.dispatch import wait_local_idle
    from backend.runs.publish import wait_queue_positions_idle

    assert wait_local_idle(30), "runs were still executing 30 s after the test ended"
    assert wait_queue_positions_idle(10), (
        "the queue-positions thread was still busy 10 s after the test ended"
    )


@pytest.fixture
def make_user(db):
    def make(username: str, **kwargs):
        return do_create_user(username, kwargs.pop("password", PASSWORD), f"{username}@example.com")

    return make


@pytest.fixture
def alice(make_user):
    """The first user of the installation: site admin, and owner of the team."""
    return make_user("alice")


@pytest.fixture
def team(alice):
    return do_create_team(alice, "Studio")


@pytest.fixture
def members(team, make_user):
    """{role: user} for every role of the team."""
    users = {Role.OWNER: team.memberships.get(role=Role.OWNER).user}
    for username, role in [
        ("adam", Role.ADMIN),
        ("eddie", Role.EDITOR),
        ("rita", Role.RUNNER),
        ("vera", Role.VIEWER),
    ]:
        user = make_user(username)
        do_add_member(team, Role.OWNER, user, role)
        users[role] = user
    return users


@pytest.fixture
def adam(members):
    return members[Role.ADMIN]


@pytest.fixture
def eddie(members):
    return members[Role.EDITOR]


@pytest.fixture
def rita(members):
    return members[Role.RUNNER]


@pytest.fixture
def vera(members):
    return members[Role.VIEWER]


@pytest.fixture
def oscar(make_user, alice):
    """An outsider: signed in, but no member of the team."""
    return make_user("oscar")


@pytest.fixture
def anon():
    return APIClient()


@pytest.fixture
def client_for():
    """``client_for(user)``: a session-authenticated client; ``client_for(user, token=True)``: Bearer token."""

    def make(user, token: bool = False) -> APIClient:
        client = APIClient()
        if token:
            _, raw = do_create_token(user, "tests")
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        else:
            client.force_login(user)
        return client

    return make


@pytest.fixture
def as_role(members, oscar, client_for):
    """``as_role("editor")`` / ``as_role("outsider")``: a client signed in as the team member with that role."""

    def make(role: str, token: bool = False) -> APIClient:
        user = oscar if role == "outsider" else members[Role(role)]
        return client_for(user, token=token)

    return make


@pytest.fixture
def wait_for_run():
    """``wait_for_run(run_id, timeout=20)``: poll the database until the run has finished; return it.

    Runs execute on the dispatcher's threads, so tests that wait must use ``django_db(transaction=True)``.
    """
    import time

    from backend.runs.models import Run

    def wait(run_id, timeout: float = 20.0, until=None):
        finished = until or (lambda run: run.is_finished())
        deadline = time.monotonic() + timeout
        while True:
            run = Run.objects.get(pk=run_id)
            if finished(run):
                return run
            if time.monotonic() > deadline:
                raise AssertionError(f"run {run_id} is still {run.status} after {timeout} s")
            time.sleep(0.02)

    return wait
