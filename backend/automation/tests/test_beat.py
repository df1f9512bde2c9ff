from celery.schedules import crontab

from backend.automation.delivery import DELIVER_TASK
from backend.automation.tick import TICK_TASK


def test_beat_sends_the_automation_tick_every_minute_and_workers_know_both_tasks_by_name():
    from backend.celery import app

    app.loader.import_default_modules()
    entry = app.conf.beat_schedule["automation-tick"]
    assert entry["task"] == TICK_TASK
    assert entry["schedule"] == crontab()  # at the start of every minute
    assert {TICK_TASK, DELIVER_TASK} <= set(app.tasks)
