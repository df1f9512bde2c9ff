import random
from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook as ReferenceWebhook

from backend.accounts.roles import Role
from backend.automation import delivery as deliveries
from backend.automation.actions import do_create_webhook
from backend.automation.models import DeliveryAttempt, Webhook, WebhookDelivery
from backend.runs import actions as run_actions
from backend.runs.models import Run

ALL_EVENTS = ["run.finished", "run.failed", "run.cancelled", "approval.requested"]


@pytest.fixture
def webhook(image_workflow, members, receiver, allow_loopback):
    return do_create_webhook(
        members[Role.OWNER],
        workspace=image_workflow.workspace,
        workflow=image_workflow,
        url=receiver.url,
        events=ALL_EVENTS,
    )


# API and permissions.


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["owner", "admin", "editor"])
def test_editors_of_the_workflow_create_a_webhook_and_see_its_secret_once(
    as_role, image_workflow, allow_loopback, role
):
    client = as_role(role)
    answer = client.post(
        f"/api/workflows/{image_workflow.pk}/webhooks",
        {"url": "http://127.0.0.1:9/hook", "events": ["run.finished", "run.failed"]},
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    assert answer.json()["secret"].startswith("whsec_")
    listed = client.get(f"/api/workflows/{image_workflow.pk}/webhooks").json()
    assert [hook["id"] for hook in listed] == [answer.json()["id"]]
    assert "secret" not in listed[0]
    assert "secret" not in client.get(f"/api/webhooks/{answer.json()['id']}").json()


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "code"), [("runner", 403), ("viewer", 403), ("outsider", 404)])
def test_runners_viewers_and_outsiders_cannot_see_or_manage_webhooks(
    as_role, webhook, image_workflow, role, code
):
    client = as_role(role)
    assert client.get(f"/api/workflows/{image_workflow.pk}/webhooks").status_code == code
    assert client.get(f"/api/webhooks/{webhook.pk}").status_code == code
    assert client.patch(f"/api/webhooks/{webhook.pk}", {"active": False}, format="json").status_code == code
    assert client.delete(f"/api/webhooks/{webhook.pk}").status_code == code
    assert client.get(f"/api/webhooks/{webhook.pk}/deliveries").status_code == code
    assert Webhook.objects.filter(pk=webhook.pk, active=True).exists()


@pytest.mark.django_db
def test_a_private_workflows_webhooks_are_hidden_from_editors_who_cannot_see_it(
    as_role, private_workflow, members, allow_loopback
):
    hook = do_create_webhook(
        members[Role.EDITOR],
        workspace=private_workflow.workspace,
        workflow=private_workflow,
        url="http://127.0.0.1:9/",
        events=["run.failed"],
    )
    assert as_role("editor").get(f"/api/webhooks/{hook.pk}").status_code == 200
    assert as_role("admin").get(f"/api/webhooks/{hook.pk}").status_code == 200
    assert as_role("runner").get(f"/api/webhooks/{hook.pk}").status_code == 404


@pytest.mark.django_db
def test_workspace_wide_webhooks_need_an_admin(as_role, team, allow_loopback):
    body = {"url": "http://127.0.0.1:9/all", "events": ["run.failed"]}
    assert (
        as_role("editor").post(f"/api/workspaces/{team.pk}/webhooks", body, format="json").status_code == 403
    )
    assert (
        as_role("outsider").post(f"/api/workspaces/{team.pk}/webhooks", body, format="json").status_code
        == 404
    )
    created = as_role("admin").post(f"/api/workspaces/{team.pk}/webhooks", body, format="json")
    assert created.status_code == 201
    assert created.json()["workflow"] is None
    assert as_role("editor").get(f"/api/webhooks/{created.json()['id']}").status_code == 403


@pytest.mark.django_db
def test_bad_input_names_the_field(as_role, image_workflow, settings):
    settings.FLOWYARD_WEBHOOK_ALLOWED_NETWORKS = []
    client = as_role("owner")
    url = f"/api/workflows/{image_workflow.pk}/webhooks"
    private = client.post(url, {"url": "http://10.0.0.5/hook", "events": ["run.failed"]}, format="json")
    assert private.status_code == 400
    assert private.json()["errors"][0]["field"] == "url"
    unknown = client.post(url, {"url": "https://example.com/h", "events": ["run.exploded"]}, format="json")
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["field"].startswith("events")


# Delivery.


def test_retry_schedule_grows_exponentially_with_jitter_up_to_two_hours(settings):
    settings.FLOWYARD_WEBHOOK_RETRY_SCALE = 1
    rng = random.Random(7)
    delays = [deliveries.retry_delay(n, rng) for n in range(1, 12)]
    for delay, base in zip(delays, [5, 30, 120, 600, 1800, 3600, 7200, 7200, 7200, 7200, 7200], strict=True):
        assert base <= delay <= base * 1.1
    # Attempts over 24 h: 7 stepped ones, then every 2 h until the window closes.
    elapsed, attempts = 0.0, 1
    while elapsed + deliveries.RETRY_DELAYS[min(attempts, 7) - 1] <= 24 * 3600:
        elapsed += deliveries.RETRY_DELAYS[min(attempts, 7) - 1]
        attempts += 1
    assert attempts == 18  # docs/webhooks.md: 18 attempts over 24 h


@pytest.mark.django_db(transaction=True)
def test_a_finished_run_is_delivered_signed_to_the_endpoint(
    webhook, image_workflow, members, receiver, wait_for_run, wait_until
):
    run = run_actions.do_create_run(
        members[Role.OWNER],
        workspace=image_workflow.workspace,
        workflow_version=image_workflow.latest_version(),
    )
    wait_for_run(run.pk)
    wait_until(lambda: WebhookDelivery.objects.filter(state="succeeded").exists(), what="delivery")
    [request] = receiver.requests
    payload = ReferenceWebhook(webhook.secret).verify(request["body"], request["headers"])
    assert payload["type"] == "run.finished"
    assert payload["data"]["run"]["id"] == str(run.pk)
    assert payload["data"]["run"]["status"] == "succeeded"
    delivery = WebhookDelivery.objects.get()
    assert request["headers"]["webhook-id"] == delivery.message_id
    assert delivery.attempts == 1 and delivery.last_status_code == 200
    assert DeliveryAttempt.objects.get().status_code == 200


@pytest.mark.django_db(transaction=True)
def test_cancelling_a_queued_run_sends_run_cancelled(
    webhook, image_workflow, members, receiver, wait_until, settings
):
    settings.FLOWYARD_MAX_RUNNING_PER_USER = 0  # the run stays queued
    settings.FLOWYARD_LEND_IDLE_WORKERS = False
    run = run_actions.do_create_run(
        members[Role.OWNER],
        workspace=image_workflow.workspace,
        workflow_version=image_workflow.latest_version(),
    )
    assert Run.objects.get(pk=run.pk).status == Run.Status.QUEUED
    run_actions.do_cancel_run(run)
    wait_until(lambda: receiver.requests, what="a request")
    assert receiver.bodies()[0]["type"] == "run.cancelled"


@pytest.mark.django_db
def test_failed_attempts_are_retried_with_the_same_id_until_one_succeeds(webhook, receiver, settings):
    settings.FLOWYARD_WEBHOOK_RETRY_SCALE = 0  # every retry due at once: the test drives the attempts
    receiver.answer = lambda n, path: (500, {}, b"boom") if n < 3 else (204, {}, b"")
    [delivery] = deliveries._record([webhook], "run.failed", "run:x", None, {"run": {"id": "x"}})
    for _ in range(3):
        assert deliveries.attempt(delivery.pk) is not None
    delivery.refresh_from_db()
    assert delivery.state == WebhookDelivery.State.SUCCEEDED
    assert [a.status_code for a in delivery.attempt_log.all()] == [500, 500, 204]
    first = delivery.attempt_log.first()
    assert first is not None and first.response_excerpt == "boom"
    assert {r["headers"]["webhook-id"] for r in receiver.requests} == {delivery.message_id}
    assert deliveries.attempt(delivery.pk) is None  # a late duplicate message does nothing


@pytest.mark.django_db
def test_an_attempt_is_not_made_before_it_is_due_nor_twice_at_once(webhook, receiver, settings):
    settings.FLOWYARD_WEBHOOK_RETRY_SCALE = 1
    receiver.answer = lambda n, path: (503, {}, b"")
    [delivery] = deliveries._record([webhook], "run.failed", "run:y", None, {})
    deliveries.attempt(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.next_attempt_at is not None
    assert delivery.next_attempt_at > timezone.now() + timedelta(seconds=4)
    assert deliveries.attempt(delivery.pk) is None  # not due yet
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now(), claimed_until=timezone.now() + timedelta(minutes=1)
    )
    assert deliveries.attempt(delivery.pk) is None  # another attempt holds it
    assert len(receiver.requests) == 1


@pytest.mark.django_db
def test_a_delivery_fails_for_good_when_the_retry_window_closes_and_can_be_redelivered(
    webhook, receiver, settings, as_role
):
    settings.FLOWYARD_WEBHOOK_RETRY_HOURS = 1
    receiver.answer = lambda n, path: (500, {}, b"") if n == 1 else (200, {}, b"")
    [delivery] = deliveries._record([webhook], "run.failed", "run:z", None, {})
    WebhookDelivery.objects.filter(pk=delivery.pk).update(window_started=timezone.now() - timedelta(hours=2))
    deliveries.attempt(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.state == WebhookDelivery.State.FAILED and delivery.next_attempt_at is None

    answer = as_role("editor").post(f"/api/webhooks/{webhook.pk}/deliveries/{delivery.pk}/redeliver")
    assert answer.status_code == 202
    assert answer.json()["state"] == "pending"
    assert (
        as_role("runner").post(f"/api/webhooks/{webhook.pk}/deliveries/{delivery.pk}/redeliver").status_code
        == 403
    )
    deliveries.attempt(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.state == WebhookDelivery.State.SUCCEEDED
    assert [r["headers"]["webhook-id"] for r in receiver.requests] == [delivery.message_id] * 2
    listed = as_role("owner").get(f"/api/webhooks/{webhook.pk}/deliveries").json()["results"]
    assert [a["status_code"] for a in listed[0]["attempt_log"]] == [500, 200]


@pytest.mark.django_db
def test_a_private_target_is_refused_at_delivery_and_logged(webhook, receiver, settings):
    settings.FLOWYARD_WEBHOOK_ALLOWED_NETWORKS = []
    [delivery] = deliveries._record([webhook], "run.failed", "run:p", None, {})
    record = deliveries.attempt(delivery.pk)
    assert record is not None
    assert record.status_code is None and "Refused" in record.error
    assert receiver.requests == []


@pytest.mark.django_db
def test_the_sweep_records_a_run_end_whose_signal_was_lost_once(webhook, image_workflow, members, settings):
    settings.FLOWYARD_WEBHOOK_SWEEP_GRACE_SECONDS = 0
    version = image_workflow.latest_version()
    finished = timezone.now()
    run = Run.objects.create(
        workspace=image_workflow.workspace,
        workflow=image_workflow,
        workflow_version=version,
        graph={},
        created_by=members[Role.OWNER],
        status=Run.Status.FAILED,
        finished=finished,
        error="boom",
    )
    Run.objects.create(  # before the webhook existed: not sent
        workspace=image_workflow.workspace,
        workflow=image_workflow,
        graph={},
        status=Run.Status.FAILED,
        finished=webhook.created - timedelta(minutes=1),
    )
    assert deliveries.sweep_missed_runs() == 1
    assert deliveries.sweep_missed_runs() == 0
    delivery = WebhookDelivery.objects.get()
    assert delivery.run_id == run.pk and delivery.event == "run.failed"
    assert delivery.payload["data"]["run"]["error"] == "boom"
    # The signal arriving late records nothing more.
    assert deliveries.record_run_finished(run.pk) == []


@pytest.mark.django_db
def test_only_subscribed_and_active_endpoints_get_an_event(image_workflow, members, allow_loopback):
    owner = members[Role.OWNER]
    workspace = image_workflow.workspace
    failures = do_create_webhook(
        owner, workspace=workspace, workflow=image_workflow, url="http://127.0.0.1:9/", events=["run.failed"]
    )
    everything = do_create_webhook(
        owner, workspace=workspace, workflow=None, url="http://127.0.0.1:9/", events=ALL_EVENTS
    )
    off = do_create_webhook(
        owner, workspace=workspace, workflow=image_workflow, url="http://127.0.0.1:9/", events=ALL_EVENTS
    )
    Webhook.objects.filter(pk=off.pk).update(active=False)
    run = Run.objects.create(
        workspace=workspace,
        workflow=image_workflow,
        graph={},
        status=Run.Status.SUCCEEDED,
        finished=timezone.now(),
    )
    recorded = deliveries.record_run_finished(run.pk)
    assert {d.webhook_id for d in recorded} == {everything.pk}
    assert failures.pk not in {d.webhook_id for d in recorded}


@pytest.mark.django_db
def test_approval_requested_is_recorded_for_subscribers(webhook, image_workflow):
    from backend.runs.signals import approval_requested

    run = Run.objects.create(
        workspace=image_workflow.workspace, workflow=image_workflow, graph={}, status="running"
    )
    approval_requested.send(sender=Run, run_id=run.pk, approval_id=42)
    delivery = WebhookDelivery.objects.get(event="approval.requested")
    assert delivery.event_key == "approval:42"
    assert delivery.payload["data"]["approval"] == {"id": "42"}


@pytest.mark.django_db
def test_a_run_end_costs_no_query_while_no_endpoint_exists(
    image_workflow, members, allow_loopback, django_assert_num_queries
):
    run = Run.objects.create(
        workspace=image_workflow.workspace, workflow=image_workflow, graph={}, status="succeeded"
    )
    deliveries.forget_no_webhooks()
    with django_assert_num_queries(1):
        assert deliveries.record_run_finished(run.pk) == []
    with django_assert_num_queries(0):
        assert deliveries.record_run_finished(run.pk) == []
    # A webhook made in this process counts at once.
    do_create_webhook(
        members[Role.OWNER],
        workspace=image_workflow.workspace,
        workflow=None,
        url="http://127.0.0.1:9/",
        events=["run.finished"],
    )
    assert len(deliveries.record_run_finished(run.pk)) == 1


@pytest.mark.django_db
def test_a_lost_run_failed_by_recovery_is_recorded_for_its_webhooks(
    webhook, image_workflow, members, settings, django_capture_on_commit_callbacks, monkeypatch
):
    from backend.runs.recovery import requeue_run

    settings.FLOWYARD_MAX_RUN_ATTEMPTS = 1
    run = Run.objects.create(
        workspace=image_workflow.workspace,
        workflow=image_workflow,
        graph={},
        created_by=members[Role.OWNER],
        status=Run.Status.RUNNING,
        worker="dead@host:1",
        attempts=1,
        started=timezone.now(),
    )
    queued: list = []
    monkeypatch.setattr(deliveries, "send_later", lambda pk, delay=0.0: queued.append(pk))
    with django_capture_on_commit_callbacks(execute=True):
        assert requeue_run(run.pk, "dead@host:1", "worker_lost") == "failed"
    [delivery] = WebhookDelivery.objects.filter(run_id=run.pk)
    assert queued == [delivery.pk]
    assert delivery.event == "run.failed"
    assert "lost" in delivery.payload["data"]["run"]["error"]
