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
