"""Fair use: per-user and per-workspace limits, priority order, queue positions."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend.accounts.roles import Role
from backend.runs.actions import do_cancel_run, do_create_run
from backend.runs.models import Run
from backend.runs.scheduling import CANDIDATES_PER_PAGE, dispatch_next
from backend.runs.tests.conftest import chain

pytestmark = pytest.mark.django_db


class RecordingDispatcher:
    def __init__(self) -> None:
        self.submitted: list = []

    def submit(self, run_id, requires_gpu=None) -> None:
        self.submitted.append(run_id)

    def cancel(self, run_id) -> None:
        pass


@pytest.fixture
def dispatcher(monkeypatch, settings):
    settings.FLOWYARD_MAX_RUNNING_PER_USER = 2
    settings.FLOWYARD_MAX_RUNNING_PER_WORKSPACE = 3
    recording = RecordingDispatcher()
    monkeypatch.setattr("backend.runs.dispatch.get_dispatcher", lambda: recording)
    return recording


@pytest.fixture
def submit(team, django_capture_on_commit_callbacks):
    def make(user, **kwargs) -> Run:
        with django_capture_on_commit_callbacks(execute=True):
            run = do_create_run(user, workspace=team, graph=chain(1), **kwargs)
        run.refresh_from_db()
        return run

    return make


def finish(run: Run) -> None:
    Run.objects.filter(pk=run.pk).update(status=Run.Status.SUCCEEDED)


def positions(*runs: Run) -> list[int | None]:
    return [Run.objects.get(pk=run.pk).queue_position() for run in runs]


def test_one_users_many_runs_do_not_block_another_users_run(members, dispatcher, submit):
    rita, eddie = members[Role.RUNNER], members[Role.EDITOR]
    ritas = [submit(rita) for _ in range(4)]
    assert dispatcher.submitted == [ritas[0].pk, ritas[1].pk]
    assert positions(*ritas) == [None, None, 0, 1]
    eddies = submit(eddie)
    assert dispatcher.submitted[-1] == eddies.pk and eddies.queue_position() is None
    assert positions(*ritas[2:]) == [0, 1]


def test_workspace_limit_and_promotion_when_runs_finish(
    members, dispatcher, submit, django_capture_on_commit_callbacks
):
    rita, eddie, adam = members[Role.RUNNER], members[Role.EDITOR], members[Role.ADMIN]
    r1, r2, r3 = (submit(rita) for _ in range(3))
    e1 = submit(eddie)
    a1 = submit(adam)  # the workspace's three slots are taken
    assert dispatcher.submitted == [r1.pk, r2.pk, e1.pk]
    assert positions(r3, a1) == [0, 1]

    finish(r1)
    with django_capture_on_commit_callbacks(execute=True):
        dispatch_next()
    assert dispatcher.submitted[-1] == r3.pk  # the oldest waiting run whose user has a free slot
    assert positions(a1) == [0]

    finish(e1)
    with django_capture_on_commit_callbacks(execute=True):
        dispatch_next()
    assert dispatcher.submitted[-1] == a1.pk
    with django_capture_on_commit_callbacks(execute=True):
        assert dispatch_next() == []  # nothing waiting: calling again changes nothing


def test_higher_priority_runs_go_first(members, dispatcher, submit):
    rita = members[Role.RUNNER]
    first, second = submit(rita), submit(rita)
    low, high = submit(rita, priority=-1), submit(rita, priority=5)
    assert dispatcher.submitted == [first.pk, second.pk]
    assert positions(high, low) == [0, 1]


def test_cancelling_a_dispatched_run_frees_its_slot(
    members, dispatcher, submit, django_capture_on_commit_callbacks
):
    rita = members[Role.RUNNER]
    r1, r2, r3 = (submit(rita) for _ in range(3))
    with django_capture_on_commit_callbacks(execute=True):
        do_cancel_run(r1)  # dispatched, not yet claimed by a worker
    assert dispatcher.submitted == [r1.pk, r2.pk, r3.pk]


def test_a_dispatcher_that_fails_gives_the_slot_back(members, monkeypatch, submit, settings):
    class Broken(RecordingDispatcher):
        def submit(self, run_id, requires_gpu=None) -> None:
            raise RuntimeError("no broker")

    monkeypatch.setattr("backend.runs.dispatch.get_dispatcher", lambda: Broken())
    run = submit(members[Role.RUNNER])
    assert run.status == "queued" and run.dispatched is None and run.queue_position() == 0


def test_a_pass_reads_no_waiting_run_while_every_waiting_user_is_full(members, dispatcher, team, settings):
    """A burst queued by one user: each pass (a submit, a finish) counts the slots and reads none of the queue."""
    rita = members[Role.RUNNER]
    Run.objects.bulk_create(
        Run(workspace=team, created_by=rita, graph={"nodes": {}}, outputs=[])
        for _ in range(CANDIDATES_PER_PAGE + 20)
    )
    with CaptureQueriesContext(connection) as first:
        chosen = dispatch_next()
    assert len(chosen) == 2  # her two slots
    with CaptureQueriesContext(connection) as full:
        assert dispatch_next() == []
    reads = [q["sql"] for q in full.captured_queries if f"LIMIT {CANDIDATES_PER_PAGE}" in q["sql"].upper()]
    assert reads == []  # no page of waiting runs: the counts showed that nobody with runs waiting has a slot
    assert len(full) < len(first)


def test_a_pass_while_nothing_waits_is_one_read_without_the_lock(members, dispatcher, team, submit):
    """Most runs end with nothing waiting: their pass reads whether anything waits, and takes neither the
    scheduler's transaction nor its lock."""
    rita = members[Role.RUNNER]
    run = submit(rita)
    assert run.dispatched is not None
    with CaptureQueriesContext(connection) as idle:
        assert dispatch_next() == []
    assert len(idle) == 1, [q["sql"] for q in idle.captured_queries]
    assert "advisory" not in idle.captured_queries[0]["sql"]
    waiting = Run.objects.create(workspace=team, created_by=rita, graph={"nodes": {}}, outputs=[])
    with CaptureQueriesContext(connection) as busy:
        assert dispatch_next() == [waiting.pk]  # a slot is free: the full pass runs and takes it
    assert len(busy) > 1


def test_a_pass_reads_as_many_pages_as_it_dispatches(members, dispatcher, team, settings):
    settings.FLOWYARD_MAX_RUNNING_PER_USER = settings.FLOWYARD_MAX_RUNNING_PER_WORKSPACE = 1000
    rita, eddie = members[Role.RUNNER], members[Role.EDITOR]
    start = timezone.now()
    ritas = Run.objects.bulk_create(
        Run(
            workspace=team,
            created_by=rita,
            graph={"nodes": {}},
            outputs=[],
            created=start + timedelta(seconds=i),
        )
        for i in range(CANDIDATES_PER_PAGE + 5)
    )
    eddies = Run.objects.create(
        workspace=team, created_by=eddie, graph={"nodes": {}}, outputs=[], priority=-1
    )
    assert dispatch_next() == [run.pk for run in ritas] + [eddies.pk]  # in order, across two pages


def test_the_waiting_page_kept_per_shape_reads_what_the_orm_query_reads(members, team, settings):
    """``_waiting_page`` runs SQL compiled once per shape with this pass's users, workspaces and chosen runs put
    in: for each shape it returns what the ORM query it was compiled from returns, in the same order."""
    from backend.accounts.models import Workspace
    from backend.runs.scheduling import _waiting_page

    settings.FLOWYARD_MAX_RUNNING_PER_USER = 0  # everything stays waiting
    other = Workspace.objects.create(name="Other", slug="other-ws", kind=Workspace.Kind.TEAM)
    users = list(members.values())
    for index in range(12):
        Run.objects.create(
            workspace=team if index % 3 else other,
            created_by=users[index % len(users)] if index % 5 else None,
            graph=chain(1),
            priority=index % 2,
            requires_gpu=index % 4 == 0,
        )
    waiting = list(
        Run.objects.filter(status=Run.Status.QUEUED, dispatched__isnull=True).order_by(
            "-priority", "created", "id"
        )
    )

    def expected(full_users: set[int], full_workspaces: set[int], chosen: list) -> list[tuple]:
        return [
            (run.pk, run.created_by_id, run.workspace_id, run.requires_gpu)
            for run in waiting
            if (run.created_by_id is None or run.created_by_id not in full_users)
            and run.workspace_id not in full_workspaces
            and run.pk not in chosen
        ][:CANDIDATES_PER_PAGE]

    shapes = [
        (set(), set(), []),
        ({users[0].pk}, set(), []),
        ({users[0].pk, users[1].pk}, {other.pk}, []),
        (set(), set(), [waiting[0].pk, waiting[3].pk]),
        ({users[2].pk}, {team.pk}, [waiting[1].pk]),
        (
            {users[1].pk},
            set(),
            [waiting[2].pk, waiting[5].pk, waiting[7].pk],
        ),  # the same shape again, other values
        ({users[3].pk}, set(), [waiting[4].pk, waiting[6].pk, waiting[8].pk]),
    ]
    for full_users, full_workspaces, chosen in shapes:
        with transaction.atomic():
            got = _waiting_page(full_users, full_workspaces, chosen)
        assert got == expected(full_users, full_workspaces, chosen), (full_users, full_workspaces, chosen)
        assert all(isinstance(run_id, uuid.UUID) for run_id, _, _, _ in got)


@pytest.mark.django_db(transaction=True)
def test_the_schedulers_own_transaction_does_not_wait_for_the_disk_but_a_callers_does(members, dispatcher):
    """Postgres: the scheduler's own transaction (it only marks runs dispatched, which a crash may lose without
    harm) commits asynchronously; inside a caller's transaction (a submit storing its run) nothing changes."""
    if connection.vendor != "postgresql":
        pytest.skip("synchronous_commit is Postgres'")
    from backend.runs.scheduling import _serialised

    def setting() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            return cursor.fetchone()[0]

    with _serialised():
        assert setting() == "off"
    assert setting() == "on"  # SET LOCAL: gone with the transaction
    with transaction.atomic(), _serialised():
        assert setting() == "on"
