import json
import subprocess
import sys

from celery.schedules import crontab

from backend.automation.delivery import DELIVER_TASK
from backend.automation.tick import TICK_TASK

# What a worker process does as it starts: import the default modules (autodiscovery), then list its tasks. Run
# in a fresh interpreter, as a worker is, so the test process's own Celery state (what other tests imported,
# patched or finalized before) cannot decide the answer.
WORKER_TASKS = (
    "import json; from backend.celery import app; app.loader.import_default_modules(); "
    "print(json.dumps(sorted(app.tasks)))"
)


def test_beat_sends_the_automation_tick_every_minute_and_workers_know_both_tasks_by_name():
    from backend.celery import app

    entry = app.conf.beat_schedule["automation-tick"]
    assert entry["task"] == TICK_TASK
    assert entry["schedule"] == crontab()  # at the start of every minute
    listed = subprocess.run(
        [sys.executable, "-c", WORKER_TASKS], capture_output=True, text=True, check=True, timeout=120
    )
    assert {TICK_TASK, DELIVER_TASK} <= set(json.loads(listed.stdout.strip().splitlines()[-1]))
