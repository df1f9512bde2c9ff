"""The accounts and workflows actions are durable transactions: called inside another transaction they raise
rather than join it (so an action's writes are committed when it returns), except the few that other actions
build on."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from django.db import transaction

from backend.accounts import actions as account_actions
from backend.accounts.models import Workspace
from backend.workflows import actions as workflow_actions
from backend.workflows.documents import parse_document
from backend.workflows.models import Workflow

# Run inside other actions' transactions (a new user's save, a fork, a built-in template), so not durable.
NESTABLE = {account_actions.do_ensure_personal_workspace, workflow_actions.do_create_workflow}
# Plain functions that open no transaction of their own but run a durable action.
DELEGATING = {account_actions.do_sign_up, workflow_actions.do_restore_version}

GRAPH = {"nodes": {"1": {"type": "core.PrimitiveInt", "inputs": {"value": 1}}}, "outputs": ["1"]}


def actions_of(module: ModuleType) -> list[Callable[..., Any]]:
    return [
        function
        for name, function in vars(module).items()
        if name.startswith("do_") and inspect.isfunction(function) and function.__module__ == module.__name__
    ]


DURABLE = [
    action
    for module in (account_actions, workflow_actions)
    for action in actions_of(module)
    if action not in NESTABLE and action not in DELEGATING
]


def test_every_action_is_either_durable_nestable_or_delegating() -> None:
    names = {action.__name__ for action in DURABLE}
    assert {"do_create_team", "do_create_token", "do_save_version", "do_fork_workflow"} <= names
    assert len(DURABLE) + len(NESTABLE) + len(DELEGATING) == len(actions_of(account_actions)) + len(
        actions_of(workflow_actions)
    )


@pytest.mark.django_db
@pytest.mark.parametrize("action", DURABLE, ids=lambda action: action.__name__)
def test_a_durable_action_refuses_to_run_inside_another_transaction(action: Callable[..., Any]) -> None:
    # The refusal comes before the action's body runs: placeholder arguments are never looked at.
    arguments = [
        None
        for parameter in inspect.signature(action).parameters.values()
        if parameter.kind
        in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        )
        and parameter.default is inspect.Parameter.empty
    ]
    with transaction.atomic(), pytest.raises(RuntimeError, match="durable atomic block cannot be nested"):
        action(*arguments)


@pytest.mark.django_db
def test_the_actions_that_delegate_are_refused_too_and_write_nothing(alice) -> None:
    workspace = Workspace.objects.get(personal_owner=alice)
    workflow = workflow_actions.do_create_workflow(alice, workspace, "One", parse_document(GRAPH, {}))
    version = workflow.versions.get()
    with transaction.atomic():
        with pytest.raises(RuntimeError, match="durable"):
            account_actions.do_sign_up("newcomer", "correct horse battery staple")
        with pytest.raises(RuntimeError, match="durable"):
            workflow_actions.do_restore_version(workflow, alice, version)
    assert not account_actions.User.objects.filter(username="newcomer").exists()
    assert workflow.versions.count() == 1


@pytest.mark.django_db
def test_the_nestable_actions_join_the_caller_s_transaction(alice) -> None:
    workspace = Workspace.objects.get(personal_owner=alice)
    with transaction.atomic():
        workflow = workflow_actions.do_create_workflow(alice, workspace, "Inner", parse_document(GRAPH, {}))
        assert account_actions.do_ensure_personal_workspace(alice) == workspace
    assert Workflow.objects.filter(pk=workflow.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_durable_actions_compose_the_nestable_ones_and_commit_when_they_return() -> None:
    # No test transaction around this one: each action is the outermost transaction, as in a request.
    user = account_actions.do_create_user(
        "dora", "correct horse battery staple"
    )  # its workspace is made inside
    workspace = Workspace.objects.get(personal_owner=user)
    team = account_actions.do_create_team(user, "Lab")
    original = workflow_actions.do_create_workflow(user, workspace, "Original", parse_document(GRAPH, {}))
    fork = workflow_actions.do_fork_workflow(user, original.versions.get(), team, "Copy")  # creates inside
    assert not transaction.get_connection().in_atomic_block
    assert fork.forked_from == original.versions.get() and fork.workspace == team
