"""Deliveries through a real Celery worker process: the task is sent by name to the webhook queue, retried with a
countdown after a failure, and a duplicate message makes no second request."""

from __future__ import annotations

import uuid

import pytest

from backend.accounts.roles import Role
from backend.automation import delivery as deliveries
from backend.automation.actions import do_create_webhook
from backend.automation.models import WebhookDelivery
from backend.runs.tests.services import (
    PYTHON,
    Process,
    checked_redis_url,
    service_env,
    subprocess_database_url,
    wait_until,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]

QUEUE = f"flowyard.hooks.test-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def redis_url():
    return checked_redis_url()


@pytest.fixture(scope="module")
def worker(redis_url, tmp_path_factory, django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        database_url = subprocess_database_url()
    log = tmp_path_factory.mktemp("hooks-celery") / "worker.log"
    env = service_env(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        SECRET_KEY="celery-tests",
        FLOWYARD_DISPATCHER="celery",
        FLOWYARD_CPU_QUEUE=QUEUE,
        FLOWYARD_AUTOMATION_QUEUE=QUEUE,
        FLOWYARD_WEBHOOK_ALLOWED_NETWORKS="127.0.0.1/32",
        FLOWYARD_WEBHOOK_RETRY_SCALE="0.2",  # the first retry after ~1 s
        FLOWYARD_VAR_DIR=str(log.parent / "var"),
    )
    args = [PYTHON, "-m", "celery", "-A", "backend", "worker", "-Q", QUEUE, "-c", "2"]
    args += [
        "-n",
        f"hooks-{uuid.uuid4().hex[:6]}@127.0.0.1",
        "--without-gossip",
        "--without-mingle",
        "--loglevel=INFO",
    ]
    process = Process(args, env, log)
    try:

        def ready() -> bool:
            process.check_alive()
            return "ready." in process.output()

        wait_until(ready, 30, "the worker to start")
        yield process
    finally:
        process.stop()


@pytest.fixture
def celery_sender(settings, monkeypatch, redis_url, worker):
    from backend.celery import app as celery_app

    settings.FLOWYARD_DISPATCHER = "celery"
    settings.FLOWYARD_AUTOMATION_QUEUE = QUEUE
    settings.CELERY_BROKER_URL = redis_url
    monkeypatch.setattr(deliveries, "_senders", {})
    celery_app.close()
    monkeypatch.setitem(celery_app.conf, "broker_url", redis_url)
    yield worker
    celery_app.close()
    settings.FLOWYARD_DISPATCHER = "local"  # the runs fixture's teardown asks for the (local) run dispatcher


def test_a_worker_delivers_retries_after_a_failure_and_ignores_a_duplicate_message(
    celery_sender, image_workflow, members, receiver, allow_loopback
):
    receiver.answer = lambda n, path: (500, {}, b"not yet") if n == 1 else (200, {}, b"ok")
    hook = do_create_webhook(
        members[Role.OWNER],
        workspace=image_workflow.workspace,
        workflow=image_workflow,
        url=receiver.url,
        events=["run.failed"],
    )
    assert isinstance(deliveries.get_sender(), deliveries.CelerySender)
    [delivery] = deliveries._record([hook], "run.failed", "run:celery", None, {"run": {"id": "celery"}})

    def delivered():
        delivery.refresh_from_db()
        return delivery.state == WebhookDelivery.State.SUCCEEDED

    wait_until(delivered, 30, "the delivery to succeed", interval=0.1)
    assert [a.status_code for a in delivery.attempt_log.all()] == [500, 200]
    # A duplicate message for a delivered event: claimed by nobody, no request.
    deliveries.send_later(delivery.pk)
    deliveries.send_later(delivery.pk)
    import time

    time.sleep(1.0)
    assert len(receiver.requests) == 2
    assert {r["headers"]["webhook-id"] for r in receiver.requests} == {delivery.message_id}
