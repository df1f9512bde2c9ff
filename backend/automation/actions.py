"""Every write to webhooks, triggers and schedules that a person asks for, one function per verb."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from backend.accounts.exceptions import field_error
from backend.accounts.models import User, Workspace
from backend.automation import netguard
from backend.automation.models import EVENT_TYPES, Schedule, Trigger, Webhook, WebhookDelivery
from backend.automation.runs import check_mapping
from backend.automation.schedules import ScheduleError, check_cron, next_occurrence, zone
from backend.automation.signing import new_secret
from backend.workflows.models import Workflow


def _check_url(url: str) -> str:
    try:
        netguard.check_url(url)
    except netguard.Refused as exc:
        raise field_error("url", str(exc)) from None
    return url


def _check_events(events: Any) -> list[str]:
    if not isinstance(events, list) or not events:
        raise field_error("events", f"Choose one or more of {', '.join(EVENT_TYPES)}.")
    unknown = [event for event in events if event not in EVENT_TYPES]
    if unknown:
        raise field_error("events", f"Unknown event {unknown[0]!r}; choose from {', '.join(EVENT_TYPES)}.")
    return sorted(set(events), key=EVENT_TYPES.index)


def do_create_webhook(
    user: User,
    *,
    workspace: Workspace,
    workflow: Workflow | None,
    url: str,
    events: list[str],
    description: str = "",
) -> Webhook:
    """A new endpoint; its ``secret`` is readable from the returned object this once."""
    return Webhook.objects.create(
        workspace=workspace,
        workflow=workflow,
        url=_check_url(url),
        events=_check_events(events),
        description=description,
        secret=new_secret(),
        created_by=user,
    )


def do_update_webhook(webhook: Webhook, **changes: Any) -> Webhook:
    """Change an endpoint's url, events, description or active switch."""
    if "url" in changes:
        webhook.url = _check_url(changes["url"])
    if "events" in changes:
        webhook.events = _check_events(changes["events"])
    for name in ("description", "active"):
        if name in changes:
            setattr(webhook, name, changes[name])
    webhook.save()
    return webhook


def do_rotate_webhook_secret(webhook: Webhook) -> Webhook:
    """A new secret for the endpoint (readable this once); attempts from now on are signed with it."""
    webhook.secret = new_secret()
    webhook.save(update_fields=["secret"])
    return webhook


def do_delete_webhook(webhook: Webhook) -> None:
    webhook.delete()


def do_redeliver(delivery: WebhookDelivery) -> WebhookDelivery:
    from backend.automation.delivery import redeliver

    return redeliver(delivery)


def _check_version(workflow: Workflow, version: int | None) -> int | None:
    if version is not None and not workflow.versions.filter(number=version).exists():
        raise field_error("version", f"Workflow {workflow.pk} has no version {version}.")
    return version


def do_create_trigger(
    user: User, workflow: Workflow, *, version: int | None = None, mapping: Any = None, description: str = ""
) -> Trigger:
    """A new trigger URL owned by ``user``; its ``secret`` is readable from the returned object this once."""
    return Trigger.objects.create(
        workflow=workflow,
        version=_check_version(workflow, version),
        mapping=check_mapping(mapping or {}),
        description=description,
        secret=new_secret(),
        owner=user,
    )


def do_update_trigger(trigger: Trigger, **changes: Any) -> Trigger:
    if "version" in changes:
        trigger.version = _check_version(trigger.workflow, changes["version"])
    if "mapping" in changes:
        trigger.mapping = check_mapping(changes["mapping"] or {})
    for name in ("description", "active"):
        if name in changes:
            setattr(trigger, name, changes[name])
    trigger.save()
    return trigger


def do_rotate_trigger_secret(trigger: Trigger) -> Trigger:
    trigger.secret = new_secret()
    trigger.save(update_fields=["secret"])
    return trigger


def do_delete_trigger(trigger: Trigger) -> None:
    trigger.delete()


def do_fire_trigger(trigger: Trigger, body: Any) -> Any:
    """Start a run of the trigger's workflow as its owner with the body mapped to inputs; returns the run."""
    from backend.automation.runs import exposed_inputs, map_inputs, start_workflow_run

    exposed = None
    if any("." not in target for target in (trigger.mapping or {}).values()):
        versions = trigger.workflow.versions.order_by("-number")
        if trigger.version is not None:
            versions = versions.filter(number=trigger.version)
        exposed = exposed_inputs(versions.values_list("layout", flat=True).first())
    overrides = map_inputs(body, trigger.mapping, exposed)
    run = start_workflow_run(trigger.owner, trigger.workflow_id, trigger.version, overrides)
    Trigger.objects.filter(pk=trigger.pk).update(last_fired=timezone.now())
    return run


def _schedule_fields(cron: str, tz_name: str) -> tuple[str, str]:
    try:
        return check_cron(cron), zone(tz_name).key
    except ScheduleError as exc:
        raise field_error(exc.field, str(exc)) from None


def _check_inputs(inputs: Any) -> dict[str, Any]:
    if not isinstance(inputs, dict) or not all(isinstance(value, dict) for value in inputs.values()):
        raise field_error("inputs", 'Expected {"node_id": {"input": value}}.')
    return inputs


def do_create_schedule(
    user: User,
    workflow: Workflow,
    *,
    cron: str,
    timezone_name: str = "UTC",
    catch_up: str = Schedule.CatchUp.SKIP,
    inputs: Any = None,
    version: int | None = None,
    paused: bool = False,
    description: str = "",
) -> Schedule:
    """A new schedule owned by ``user``, its first occurrence planned from now."""
    cron, tz_name = _schedule_fields(cron, timezone_name)
    schedule = Schedule(
        workflow=workflow,
        version=_check_version(workflow, version),
        cron=cron,
        timezone=tz_name,
        catch_up=catch_up,
        inputs=_check_inputs(inputs or {}),
        paused=paused,
        description=description,
        owner=user,
    )
    schedule.next_fire_at = next_occurrence(schedule, timezone.now())
    schedule.save()
    return schedule


def do_update_schedule(schedule: Schedule, **changes: Any) -> Schedule:
    """Change a schedule. A new cron or time zone, or unpausing, plans the next occurrence from now (so
    unpausing never fires the occurrences missed while paused)."""
    with transaction.atomic(durable=True):
        schedule = Schedule.objects.select_for_update().get(pk=schedule.pk)
        cron, tz_name = _schedule_fields(
            changes.get("cron", schedule.cron), changes.get("timezone", schedule.timezone)
        )
        replan = cron != schedule.cron or tz_name != schedule.timezone
        schedule.cron, schedule.timezone = cron, tz_name
        if "version" in changes:
            schedule.version = _check_version(schedule.workflow, changes["version"])
        if "inputs" in changes:
            schedule.inputs = _check_inputs(changes["inputs"] or {})
        for name in ("catch_up", "description"):
            if name in changes:
                setattr(schedule, name, changes[name])
        if "paused" in changes and changes["paused"] != schedule.paused:
            schedule.paused = changes["paused"]
            replan = replan or not schedule.paused
        if replan:
            schedule.next_fire_at = next_occurrence(schedule, timezone.now())
        schedule.save()
    return schedule


def do_delete_schedule(schedule: Schedule) -> None:
    schedule.delete()
