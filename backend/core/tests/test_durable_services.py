"""The other apps' actions and services are durable where their transaction is the outermost one: called inside
another transaction they raise rather than join it, so what they wrote is committed when they return and what
they publish on commit is sent then. The ones that run inside a caller's transaction are listed with why.

(The accounts and workflows actions: test_durable_actions.py.)
"""

from __future__ import annotations

import inspect
import io
import uuid
from collections.abc import Callable
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from django.db import transaction
from django.db.transaction import Atomic
from django.utils import timezone
from PIL import Image

from backend.approvals import actions as approval_actions
from backend.automation import actions as automation_actions
from backend.automation import delivery, schedules
from backend.automation.models import Webhook, WebhookDelivery
from backend.coedit import store as coedit_store
from backend.flowapps import actions as app_actions
from backend.flowapps.models import AppRun
from backend.registry import actions as registry_actions
from backend.runs import actions as run_actions
from backend.runs import execution, recovery
from backend.storage.blobs import get_blob_store
from backend.uploads import actions as upload_actions

NESTED = "durable atomic block cannot be nested"

# Decorated actions that run inside a caller's transaction, so not durable.
NESTABLE = {
    # load_packs records the schemas it read, and its callers may hold a transaction.
    registry_actions.do_record_node_schemas,
}


def actions_of(module: ModuleType) -> list[Callable[..., Any]]:
    return [
        function
        for name, function in vars(module).items()
        if name.startswith("do_") and inspect.isfunction(function) and function.__module__ == module.__name__
    ]


def decorating_atomic(function: Callable[..., Any]) -> Atomic | None:
    """The ``transaction.atomic`` a function is decorated with (Django's ContextDecorator keeps it in the
    wrapper's closure), or None."""
    for cell in getattr(function, "__closure__", None) or ():
        if isinstance(cell.cell_contents, Atomic):
            return cell.cell_contents
    return None


DECORATED = [
    action
    for module in (registry_actions, app_actions, upload_actions)
    for action in actions_of(module)
    if decorating_atomic(action) is not None
]
DURABLE = [action for action in DECORATED if action not in NESTABLE]


def placeholders(action: Callable[..., Any]) -> list[None]:
    return [
        None
        for parameter in inspect.signature(action).parameters.values()
        if parameter.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        and parameter.default is inspect.Parameter.empty
    ]


def test_every_decorated_action_is_durable_unless_listed_as_nestable() -> None:
    names = {action.__name__ for action in DURABLE}
    assert {"do_upload_version", "do_install_pack", "do_publish_app", "do_delete_upload"} <= names
    for action in DECORATED:
        atomic = decorating_atomic(action)
        assert atomic is not None, action.__name__
        durable = atomic.durable  # type: ignore[attr-defined]  # set by Atomic.__init__; django-stubs omit it
        assert durable == (action not in NESTABLE), action.__name__


@pytest.mark.django_db
@pytest.mark.parametrize("action", DURABLE, ids=lambda action: action.__name__)
def test_a_durable_action_refuses_to_run_inside_another_transaction(action: Callable[..., Any]) -> None:
    # The refusal comes before the action's body runs: placeholder arguments are never looked at.
    with pytest.raises(RuntimeError, match=NESTED), transaction.atomic():
        action(*placeholders(action))


# Services whose transaction opens inside their body: each called inside another transaction with arguments that
# carry it as far as its own ``atomic``.
SERVICES: dict[str, Callable[[], Any]] = {
    "approvals.do_decide": lambda: approval_actions.do_decide(None, None, "approve"),  # type: ignore[arg-type]
    "approvals.request_approvals": lambda: approval_actions.request_approvals(uuid.uuid4()),
    "automation.do_update_schedule": lambda: automation_actions.do_update_schedule(None),  # type: ignore[arg-type]
    "automation.redeliver": lambda: delivery.redeliver(None),  # type: ignore[arg-type]
    "automation.fire a schedule": lambda: schedules._fire(uuid.uuid4(), timezone.now()),
    "coedit.compact": lambda: coedit_store.compact(0),
    "flowapps.do_run_app with an Idempotency-Key": lambda: app_actions.do_run_app(
        None,  # type: ignore[arg-type]
        SimpleNamespace(via=AppRun.Via.KEY, identity="key:1", key=None),  # type: ignore[arg-type]
        {"prompt": "x"},
        "retry-1",
    ),
    "runs.do_cancel_run": lambda: run_actions.do_cancel_run(None),  # type: ignore[arg-type]
    "runs.do_delete_run": lambda: run_actions.do_delete_run(None),  # type: ignore[arg-type]
    "runs.the recorder's batch write": lambda: execution.EventRecorder._commit(None, [], {}, {}),  # type: ignore[arg-type]
    "runs.requeue_run": lambda: recovery.requeue_run(uuid.uuid4(), "gone@host:1", "worker_lost"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(SERVICES))
def test_a_durable_service_refuses_to_run_inside_another_transaction(name: str) -> None:
    with pytest.raises(RuntimeError, match=NESTED), transaction.atomic():
        SERVICES[name]()


@pytest.mark.django_db
def test_a_comfyui_prompt_is_queued_in_a_durable_transaction(alice, team) -> None:
    from backend.compat.prompts import submit_prompt
    from backend.compat.tests.conftest import IMAGE_PROMPT
    from backend.runs.models import Run

    with pytest.raises(RuntimeError, match=NESTED), transaction.atomic():
        submit_prompt(alice, team, {"prompt": IMAGE_PROMPT})
    assert not Run.objects.exists()


@pytest.mark.django_db
def test_a_webhook_attempt_records_in_a_durable_transaction(team) -> None:
    hook = Webhook.objects.create(workspace=team, url="https://hooks.example/x", secret="s", active=False)
    row = WebhookDelivery.objects.create(webhook=hook, event="run.finished", event_key="run:1", payload={})
    with pytest.raises(RuntimeError, match=NESTED), transaction.atomic():
        delivery.attempt(row.pk)  # a disabled webhook: recorded as failed without a request
    assert delivery.attempt(row.pk) is not None  # outside a transaction it records the attempt


@pytest.mark.django_db
def test_a_thumbnail_is_recorded_in_a_durable_transaction(settings, tmp_path) -> None:
    settings.FLOWYARD_BLOB_BACKEND = "local"
    settings.FLOWYARD_BLOB_DIR = tmp_path / "blobs"
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(buffer, format="PNG")
    upload = SimpleNamespace(sha256=get_blob_store().put(buffer.getvalue()))
    with pytest.raises(RuntimeError, match=NESTED), transaction.atomic():
        upload_actions.ensure_thumbnail(upload, 4)  # type: ignore[arg-type]
    assert upload_actions.ensure_thumbnail(upload, 4)  # type: ignore[arg-type]
