"""Fair scheduling end to end: one user's long queue does not hold back another user's run."""

from __future__ import annotations

import contextlib

import pytest

from backend.accounts.models import Workspace
from backend.accounts.roles import Role
from backend.runs.actions import RunConflict, do_cancel_run, do_create_run
from backend.runs.models import Run
from backend.runs.scheduling import dispatch_next
from backend.runs.tests.conftest import chain


@pytest.mark.django_db(transaction=True)
def test_one_users_hundred_runs_do_not_hold_back_another_users_single_run(
    team, members, oscar, settings, wait_for_run
):
    # Hold everything while the queue fills, so all 100 of rita's runs are waiting ahead of oscar's.
    settings.FLOWYARD_MAX_RUNNING_PER_USER = 0
    runner = members[Role.RUNNER]
    flood = [do_create_run(runner, workspace=team, graph=chain(2)).pk for _ in range(100)]
    single = do_create_run(oscar, workspace=Workspace.objects.get(personal_owner=oscar), graph=chain(2))
    assert single.queue_position() == 100

    settings.FLOWYARD_MAX_RUNNING_PER_USER = 2
    settings.FLOWYARD_MAX_RUNNING_PER_WORKSPACE = 4
    dispatch_next()

    done = wait_for_run(single.pk, timeout=30)
    assert done.status == "succeeded"
    flood_runs = Run.objects.filter(pk__in=flood)
    finished_first = flood_runs.filter(finished__lte=done.started).count()
    assert finished_first <= 4, f"oscar's run waited for {finished_first} of rita's runs"
    assert flood_runs.exclude(status__in=Run.FINISHED).count() >= 90
    for run in flood_runs.exclude(status__in=Run.FINISHED):  # no need to run them all
        with contextlib.suppress(RunConflict):  # it finished meanwhile
            do_cancel_run(run)


class IdleWorkers:
    """A dispatcher in front of ``capacity`` idle workers that records what it is handed (nothing executes)."""

    def __init__(self, capacity: int) -> None:
        self.workers = capacity
        self.submitted: list = []

    def capacity(self) -> int:
        return self.workers

    def submit(self, run_id, requires_gpu=None) -> None:
        self.submitted.append(run_id)

    def cancel(self, run_id) -> None:
        pass


@pytest.fixture
def idle_workers(monkeypatch, settings):
    settings.FLOWYARD_MAX_RUNNING_PER_USER = 2
    settings.FLOWYARD_MAX_RUNNING_PER_WORKSPACE = 3
    workers = IdleWorkers(64)
    monkeypatch.setattr("backend.runs.dispatch.get_dispatcher", lambda: workers)
    return workers


@pytest.fixture
def queue_runs(django_capture_on_commit_callbacks):
    def queue(user, workspace, count: int) -> list:
        with django_capture_on_commit_callbacks(execute=True):
            return [do_create_run(user, workspace=workspace, graph=chain(1)).pk for _ in range(count)]

    return queue


@pytest.mark.django_db
def test_a_lone_users_burst_is_dispatched_at_once_while_workers_are_free(
    members, team, idle_workers, queue_runs
):
    burst = queue_runs(members[Role.RUNNER], team, 50)
    assert idle_workers.submitted == burst
    assert not Run.objects.filter(status=Run.Status.QUEUED, dispatched__isnull=True).exists()


@pytest.mark.django_db
def test_a_lone_users_burst_borrows_only_the_free_workers(members, team, idle_workers, queue_runs):
    idle_workers.workers = 5
    burst = queue_runs(members[Role.RUNNER], team, 12)
    assert idle_workers.submitted == burst[:5]
    assert Run.objects.get(pk=burst[5]).queue_position() == 0


@pytest.mark.django_db
def test_with_a_second_user_waiting_the_limits_apply_until_only_one_user_waits(
    members, team, idle_workers, queue_runs, settings, django_capture_on_commit_callbacks
):
    rita, eddie = members[Role.RUNNER], members[Role.EDITOR]
    settings.FLOWYARD_MAX_RUNNING_PER_USER = 0  # hold everything while both queues fill
    ritas = queue_runs(rita, team, 10)
    eddies = queue_runs(eddie, team, 3)
    assert idle_workers.submitted == []

    settings.FLOWYARD_MAX_RUNNING_PER_USER = 2
    settings.FLOWYARD_MAX_RUNNING_PER_WORKSPACE = 4
    with django_capture_on_commit_callbacks(execute=True):
        dispatch_next()
    # 64 idle workers, but two users wait: two runs each (the workspace's four slots), the rest wait their turn.
    assert idle_workers.submitted == [*ritas[:2], *eddies[:2]]

    Run.objects.filter(pk__in=eddies).update(status=Run.Status.CANCELLED)  # eddie no longer waits
    with django_capture_on_commit_callbacks(execute=True):
        dispatch_next()
    assert idle_workers.submitted[4:] == ritas[2:]  # alone again: rita takes the idle workers


@pytest.mark.django_db
def test_a_workspace_weight_scales_its_limit_under_contention(
    members, team, idle_workers, queue_runs, settings, django_capture_on_commit_callbacks
):
    rita, eddie = members[Role.RUNNER], members[Role.EDITOR]
    settings.FLOWYARD_MAX_RUNNING_PER_USER = 0
    queue_runs(rita, team, 5)
    queue_runs(eddie, team, 5)
    settings.FLOWYARD_MAX_RUNNING_PER_USER = 10
    settings.FLOWYARD_MAX_RUNNING_PER_WORKSPACE = 4
    settings.FLOWYARD_WORKSPACE_WEIGHTS = {team.slug: 0.5}
    with django_capture_on_commit_callbacks(execute=True):
        dispatch_next()
    assert len(idle_workers.submitted) == 2  # 4 x 0.5
