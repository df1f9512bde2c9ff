import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connections

from backend.accounts.actions import do_change_role
from backend.accounts.roles import Role
from backend.automation.actions import do_create_schedule, do_update_schedule
from backend.automation.models import Schedule, ScheduleFiring
from backend.automation.schedules import fire_due, occurrences_after
from backend.automation.tick import tick
from backend.runs.models import Run


def at(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.django_db
def test_a_schedule_fires_at_nine_local_time_on_both_sides_of_the_spring_dst_change(image_workflow, members):
    owner = members[Role.EDITOR]
    with time_machine.travel(at(2026, 3, 27, 12, 0), tick=False) as clock:
        schedule = do_create_schedule(
            owner, image_workflow, cron="0 9 * * *", timezone_name="Europe/Berlin", inputs={"1": {"width": 4}}
        )
        assert schedule.next_fire_at == at(2026, 3, 28, 8, 0)  # 09:00 CET (UTC+1)

        clock.move_to(at(2026, 3, 28, 7, 59, 30))
        assert fire_due() == []
        clock.move_to(at(2026, 3, 28, 8, 0, 5))
        [saturday] = fire_due()
        assert saturday.occurrence == at(2026, 3, 28, 8, 0) and saturday.error == ""
        schedule.refresh_from_db()
        # Clocks go forward on Sunday 29 March at 02:00 local: 09:00 CEST is 07:00 UTC.
        assert schedule.next_fire_at == at(2026, 3, 29, 7, 0)

        clock.move_to(at(2026, 3, 29, 6, 59, 30))
        assert fire_due() == []
        clock.move_to(at(2026, 3, 29, 7, 0, 5))
        [sunday] = fire_due()
        assert sunday.occurrence == at(2026, 3, 29, 7, 0)
        assert fire_due() == []  # the same occurrence never twice

    runs = Run.objects.filter(pk__in=[saturday.run_id, sunday.run_id])
    assert runs.count() == 2
    assert {run.created_by_id for run in runs} == {owner.pk}  # the owner's runs: their fair use
    assert all(run.graph["nodes"]["1"]["inputs"]["width"] == 4 for run in runs)


@pytest.mark.django_db
def test_the_autumn_dst_change_keeps_nine_local_time():
    [before, after] = occurrences_after("0 9 * * *", "Europe/Berlin", at(2026, 10, 24, 12, 0), 2)
    assert before == at(2026, 10, 25, 8, 0) and after == at(2026, 10, 26, 8, 0)  # CEST then CET: both 09:00


@pytest.mark.django_db
@pytest.mark.parametrize(("policy", "runs"), [("skip", 0), ("run_once", 1)])
def test_after_downtime_the_catch_up_policy_decides(image_workflow, members, policy, runs):
    with time_machine.travel(at(2026, 6, 1, 10, 0), tick=False) as clock:
        schedule = do_create_schedule(members[Role.OWNER], image_workflow, cron="0 * * * *", catch_up=policy)
        clock.move_to(at(2026, 6, 1, 13, 20))  # down over 11:00, 12:00 and 13:00
        fired = fire_due()
        schedule.refresh_from_db()
        assert schedule.next_fire_at == at(2026, 6, 1, 14, 0)
        assert len(fired) == runs == Run.objects.count()
        if fired:
            assert fired[0].occurrence == at(2026, 6, 1, 13, 0) and fired[0].missed == 2
        clock.move_to(at(2026, 6, 1, 14, 0, 20))  # back to normal: on time again
        assert len(fire_due()) == 1


@pytest.mark.django_db
def test_a_paused_schedule_fires_nothing_and_unpausing_plans_from_now(image_workflow, members):
    with time_machine.travel(at(2026, 6, 1, 10, 0), tick=False) as clock:
        schedule = do_create_schedule(
            members[Role.OWNER], image_workflow, cron="*/10 * * * *", catch_up="run_once", paused=True
        )
        clock.move_to(at(2026, 6, 1, 11, 5))
        assert fire_due() == []
        schedule = do_update_schedule(schedule, paused=False)
        assert schedule.next_fire_at == at(2026, 6, 1, 11, 10)
        assert fire_due() == []
    assert not ScheduleFiring.objects.exists()


@pytest.mark.django_db
def test_a_schedule_whose_owner_lost_the_run_right_records_why_and_starts_nothing(
    image_workflow, team, members
):
    owner = members[Role.EDITOR]
    with time_machine.travel(at(2026, 6, 1, 10, 0), tick=False) as clock:
        do_create_schedule(owner, image_workflow, cron="30 10 * * *")
        do_change_role(team, members[Role.OWNER], Role.OWNER, owner.pk, Role.VIEWER)
        clock.move_to(at(2026, 6, 1, 10, 30, 1))
        [firing] = fire_due()
    assert firing.run_id is None and "no longer run" in firing.error
    assert not Run.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_ticks_fire_an_occurrence_once(image_workflow, members, wait_for_run):
    schedule = do_create_schedule(members[Role.OWNER], image_workflow, cron="* * * * *")
    assert schedule.next_fire_at is not None
    due = schedule.next_fire_at + timedelta(seconds=1)
    Schedule.objects.filter(pk=schedule.pk).update(next_fire_at=schedule.next_fire_at)
    barrier = threading.Barrier(4)
    results: list[int] = []

    def ticker() -> None:
        try:
            barrier.wait()
            results.append(len(fire_due(due)))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=ticker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [0, 0, 0, 1]
    [firing] = ScheduleFiring.objects.all()
    assert Run.objects.count() == 1
    wait_for_run(firing.run_id)


@pytest.mark.django_db
def test_the_tick_fires_due_schedules(image_workflow, members):
    with time_machine.travel(at(2026, 6, 1, 10, 0), tick=False) as clock:
        schedule = do_create_schedule(members[Role.OWNER], image_workflow, cron="1 10 * * *")
        clock.move_to(at(2026, 6, 1, 10, 1, 2))
        report = tick()
    assert report["fired"] == [str(schedule.pk)]


# API.


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["owner", "admin", "editor"])
def test_editors_create_schedules_with_a_next_run_preview_and_pause_them(as_role, image_workflow, role):
    client = as_role(role)
    with time_machine.travel(at(2026, 3, 27, 12, 0), tick=False):
        created = client.post(
            f"/api/workflows/{image_workflow.pk}/schedules",
            {"cron": "0 9 * * *", "timezone": "Europe/Berlin", "catch_up": "run_once"},
            format="json",
        )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["next_runs"][:2] == ["2026-03-28T08:00:00+00:00", "2026-03-29T07:00:00+00:00"]
    assert len(body["next_runs"]) == 5
    paused = client.patch(f"/api/schedules/{body['id']}", {"paused": True}, format="json")
    assert paused.status_code == 200 and paused.json()["paused"] is True
    assert [s["id"] for s in client.get(f"/api/workflows/{image_workflow.pk}/schedules").json()] == [
        body["id"]
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "code"), [("runner", 403), ("viewer", 403), ("outsider", 404)])
def test_runners_viewers_and_outsiders_cannot_manage_schedules(as_role, image_workflow, members, role, code):
    schedule = do_create_schedule(members[Role.OWNER], image_workflow, cron="0 * * * *")
    client = as_role(role)
    assert client.get(f"/api/workflows/{image_workflow.pk}/schedules").status_code == code
    body = {"cron": "0 * * * *"}
    assert (
        client.post(f"/api/workflows/{image_workflow.pk}/schedules", body, format="json").status_code == code
    )
    assert client.get(f"/api/schedules/{schedule.pk}").status_code == code
    assert client.patch(f"/api/schedules/{schedule.pk}", {"paused": True}, format="json").status_code == code
    assert client.delete(f"/api/schedules/{schedule.pk}").status_code == code
    assert Schedule.objects.filter(pk=schedule.pk, paused=False).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"cron": "61 * * * *"}, "cron"),
        ({"cron": "0 9 * *"}, "cron"),
        ({"cron": "0 9 * * *", "timezone": "Mars/Olympus"}, "timezone"),
        ({"cron": "0 9 * * *", "catch_up": "always"}, "catch_up"),
        ({"cron": "0 9 * * *", "inputs": {"1": 5}}, "inputs.1"),
    ],
)
def test_bad_schedules_name_the_field(as_role, image_workflow, body, field):
    answer = as_role("editor").post(f"/api/workflows/{image_workflow.pk}/schedules", body, format="json")
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == field


@pytest.mark.django_db
def test_the_preview_lists_the_next_runs_of_an_expression(as_role):
    client = as_role("viewer")
    with time_machine.travel(at(2026, 3, 27, 12, 0), tick=False):
        answer = client.get(
            "/api/schedules/preview", {"cron": "30 2 * * *", "timezone": "Europe/Berlin", "count": 3}
        )
    assert answer.status_code == 200
    # 02:30 does not exist on 29 March in Berlin: that day's run is at 03:00 CEST (01:00 UTC).
    assert answer.json()["next_runs"] == [
        "2026-03-28T01:30:00+00:00",
        "2026-03-29T01:00:00+00:00",
        "2026-03-30T00:30:00+00:00",
    ]
    bad = client.get("/api/schedules/preview", {"cron": "nope"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "cron"
