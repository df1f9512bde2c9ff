import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_json_log_format_writes_one_object_per_line():
    script = (
        "import django, logging; django.setup(); "
        "logging.getLogger('flowyard.test').warning('run %s finished', 'r1', extra={'run': 'r1'})"
    )
    env = {**os.environ, "LOG_FORMAT": "json", "DJANGO_SETTINGS_MODULE": "backend.settings"}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stderr.strip().splitlines()[-1])
    assert record["message"] == "run r1 finished"
    assert record["level"] == "WARNING" and record["logger"] == "flowyard.test" and record["run"] == "r1"
