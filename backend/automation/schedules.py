"""Cron schedules: when a schedule fires next, and the tick that fires the due ones.

Occurrences are computed by croniter in the schedule's IANA time zone and stored in UTC (``next_fire_at``), so
"0 9 * * *" in Europe/Berlin fires at 08:00 UTC in winter and 07:00 UTC in summer. Across the spring-forward
gap a time that does not exist fires at the first minute after the gap; across the fall-back overlap a time
that happens twice fires twice (croniter's behaviour).

``fire_due`` locks each due schedule row (``SELECT ... FOR UPDATE SKIP LOCKED``) and writes one
``ScheduleFiring`` per occurrence (unique per schedule and occurrence) in the same transaction that moves
``next_fire_at`` on: two beats, two workers or a beat and the embedded ticker never start the same occurrence
twice.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import croniter  # type: ignore[import-untyped, unused-ignore]
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from backend.automation.models import Schedule, ScheduleFiring

logger = logging.getLogger(__name__)

MAX_CATCH_UP_SCAN = 10_000


class ScheduleError(ValueError):
    """A cron expression or a time zone that cannot be used; ``field`` names which."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; ``ScheduleError`` when unknown."""
    if name not in _zones():
        raise ScheduleError("timezone", f"{name!r} is not an IANA time zone (e.g. Europe/Berlin, UTC).")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError("timezone", f"{name!r} is not an IANA time zone.") from None


_zone_names: set[str] | None = None


def _zones() -> set[str]:
    global _zone_names
    if _zone_names is None:
        _zone_names = available_timezones() | {"UTC"}
    return _zone_names


def check_cron(expression: str) -> str:
    """A five-field cron expression, normalised; ``ScheduleError`` when croniter cannot use it."""
    expression = " ".join(expression.split())
    if len(expression.split()) != 5 or not croniter.is_valid(expression):
        raise ScheduleError(
            "cron", f"{expression!r} is not a cron expression of five fields (minute hour day month weekday)."
        )
    return expression


def occurrences_after(expression: str, tz_name: str, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` occurrences strictly after ``after``, in UTC."""
    iterator = croniter(expression, after.astimezone(zone(tz_name)))
    return [iterator.get_next(datetime).astimezone(UTC) for _ in range(count)]


def next_occurrence(schedule: Schedule, after: datetime) -> datetime:
    return occurrences_after(schedule.cron, schedule.timezone, after, 1)[0]


def fire_due(now: datetime | None = None) -> list[ScheduleFiring]:
    """Fire every unpaused schedule whose ``next_fire_at`` has passed; returns the firings made."""
    now = now or timezone.now()
    due = list(
        Schedule.objects.filter(paused=False, next_fire_at__lte=now).values_list("pk", flat=True)[:500]
    )
    firings = []
    for schedule_id in due:
        try:
            firing = _fire(schedule_id, now)
        except Exception:
            logger.exception("schedule %s could not fire", schedule_id)
            continue
        if firing is not None:
            firings.append(firing)
    return firings


def _fire(schedule_id: Any, now: datetime) -> ScheduleFiring | None:
    with transaction.atomic(durable=True):
        schedule = (
            Schedule.objects.select_for_update(skip_locked=True)
            .select_related("workflow", "owner")
            .filter(pk=schedule_id, paused=False, next_fire_at__lte=now)
            .first()
        )
        if schedule is None:
            return None  # another ticker holds it, or fired it already
        assert schedule.next_fire_at is not None
        missed: list[datetime] = [schedule.next_fire_at]
        iterator = croniter(schedule.cron, schedule.next_fire_at.astimezone(zone(schedule.timezone)))
        upcoming = iterator.get_next(datetime).astimezone(UTC)
        while upcoming <= now and len(missed) < MAX_CATCH_UP_SCAN:
            missed.append(upcoming)
            upcoming = iterator.get_next(datetime).astimezone(UTC)
        while upcoming <= now:  # a schedule idle for years: jump without listing every minute
            upcoming = next_occurrence(schedule, now)
        schedule.next_fire_at = upcoming
        late = now - missed[-1] > timedelta(seconds=settings.FLOWYARD_SCHEDULE_MISFIRE_SECONDS)
        downtime = len(missed) > 1 or late
        occurrence = missed[-1]
        fire = not downtime or schedule.catch_up == Schedule.CatchUp.RUN_ONCE
        Schedule.objects.filter(pk=schedule.pk).update(
            next_fire_at=upcoming, last_fired=now if fire else schedule.last_fired
        )
        if not fire:
            logger.info(
                "schedule %s: %d occurrence(s) missed, skipped (catch-up: skip)", schedule.pk, len(missed)
            )
            return None
        firing, created = ScheduleFiring.objects.get_or_create(
            schedule=schedule, occurrence=occurrence, defaults={"fired": now, "missed": len(missed) - 1}
        )
        if not created:
            return None
        firing.run_id, firing.error = _start_run(schedule)
        firing.save(update_fields=["run_id", "error"])
    return firing


def _start_run(schedule: Schedule) -> tuple[Any, str]:
    """Start the scheduled run as the schedule's owner; (run id, "") or (None, why it could not start)."""
    from backend.automation.runs import RunRefused, start_workflow_run

    try:
        run = start_workflow_run(schedule.owner, schedule.workflow_id, schedule.version, schedule.inputs)
    except RunRefused as exc:
        logger.warning("schedule %s could not start a run: %s", schedule.pk, exc)
        return None, str(exc)
    return run.pk, ""
