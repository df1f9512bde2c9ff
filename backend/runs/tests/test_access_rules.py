"""The access rules behind backend/accounts/access.py for runs: the queryset rule agrees with the object rule,
and a new run's version and workspace are the access layer's answer."""

from __future__ import annotations

import contextlib
import uuid

import pytest
from rest_framework.exceptions import NotFound, PermissionDenied

from backend.accounts.access import (
    access_run,
    access_run_target,
    role_in,
    sees_run,
    visible_runs,
    visible_workflows,
)
from backend.accounts.roles import Role
from backend.runs.actions import do_create_run
from backend.runs.tests.conftest import chain
from backend.workflows.actions import do_create_workflow
from backend.workflows.documents import parse_document


@pytest.fixture
def everyone(members, oscar):
    return [*members.values(), oscar]


def test_listed_workflows_and_runs_are_exactly_those_each_caller_may_load(
    team, members, everyone, image_workflow, private_workflow
):
    runners_own = do_create_workflow(
        members[Role.RUNNER],
        team,
        "Rita's",
        parse_document(chain(1), {"nodes": {}, "groups": []}),
        visibility="private",
    )
    workflows = [image_workflow, private_workflow, runners_own]
    starter = members[Role.OWNER]
    runs = [
        do_create_run(starter, workspace=team, workflow_version=wf.latest_version()) for wf in workflows
    ] + [do_create_run(starter, workspace=team, graph=chain(1))]
    for user in everyone:
        role = role_in(user, team)
        may_see = {wf.pk for wf in workflows if role is not None and wf.is_visible_to(user, role)}
        assert set(visible_workflows(user).values_list("pk", flat=True)) == may_see, user.username
        loadable = set()
        for run in runs:
            with contextlib.suppress(NotFound):
                loadable.add(access_run(user, run.pk).pk)
        assert set(visible_runs(user).values_list("pk", flat=True)) == loadable, user.username
        assert {run.pk for run in runs if sees_run(user, run.pk)} == loadable, user.username
        assert {run.pk for run in runs if sees_run(user, run.pk.hex)} == loadable, (
            user.username
        )  # as sockets give it
    # The rule is not trivially all-or-nothing: runners see their own private workflow, not eddie's.
    rita = members[Role.RUNNER]
    assert set(visible_workflows(rita)) == {image_workflow, runners_own}


def test_a_new_run_of_a_workflow_runs_its_latest_version_in_its_workspace(team, members, image_workflow):
    workspace, version = access_run_target(members[Role.RUNNER], workflow_id=image_workflow.pk)
    assert workspace == team
    assert version == image_workflow.latest_version()
    _, first = access_run_target(members[Role.RUNNER], workflow_id=image_workflow.pk, number=1)
    assert first is not None and first.number == 1


def test_a_new_raw_graph_run_runs_in_the_workspace_named(team, members):
    assert access_run_target(members[Role.RUNNER], workspace_id=team.pk) == (team, None)


def test_who_may_not_choose_where_a_run_goes(team, members, oscar, image_workflow, private_workflow):
    with pytest.raises(PermissionDenied):
        access_run_target(members[Role.VIEWER], workflow_id=image_workflow.pk)
    with pytest.raises(PermissionDenied):
        access_run_target(members[Role.VIEWER], workspace_id=team.pk)
    with pytest.raises(NotFound):
        access_run_target(oscar, workflow_id=image_workflow.pk)
    with pytest.raises(NotFound):
        access_run_target(oscar, workspace_id=team.pk)
    with pytest.raises(NotFound):
        access_run_target(members[Role.RUNNER], workflow_id=private_workflow.pk)
    with pytest.raises(NotFound):
        access_run_target(members[Role.RUNNER], workflow_id=image_workflow.pk, number=99)


def test_sees_run_answers_no_for_missing_runs_malformed_ids_and_anonymous_callers(team, members):
    from django.contrib.auth.models import AnonymousUser

    owner = members[Role.OWNER]
    run = do_create_run(owner, workspace=team, graph=chain(1))
    assert sees_run(owner, run.pk)
    assert not sees_run(owner, uuid.uuid4())
    assert not sees_run(owner, "not-a-uuid")
    assert not sees_run(AnonymousUser(), run.pk)


def test_sees_run_follows_membership_changes_though_its_sql_is_kept_per_user(team, members):
    owner, runner = members[Role.OWNER], members[Role.RUNNER]
    run = do_create_run(owner, workspace=team, graph=chain(1))
    assert sees_run(runner, run.pk)
    team.memberships.filter(user=runner).delete()
    assert not sees_run(runner, run.pk)
