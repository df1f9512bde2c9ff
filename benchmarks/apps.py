"""App endpoint benchmarks: submit-to-output latency of ``POST /api/apps/<slug>/runs`` with an app key, against
the same run through ``POST /api/runs`` (the run itself), on the embedded default (SQLite under a temporary
directory, the local dispatcher, the in-memory channel layer). Every repeat asks for the same inputs, so the run
is served from the cache: what is left is the API, validation, queueing, recording and answering the outputs.

Run ``python -m benchmarks.apps``. Prints one JSON object per line:

- ``apps.cached.runs_api``: POST /api/runs {workflow, overrides}, then GET /api/runs/<id> until it has finished;
- ``apps.cached.app_endpoint``: POST /api/apps/<slug>/runs {inputs} with an app key, then GET
  /api/apps/<slug>/runs/<id> until it has finished with its outputs (signed URLs);
- ``apps.cached.overhead``: the difference of the two medians (goal: under 100 ms), and the load average.

``seconds`` is the median of the repeats, ``best_seconds`` the fastest, ``submit_seconds`` the median POST.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

REPEATS = 30
GOAL_SECONDS = 0.100
GRAPH = {
    "nodes": {
        "1": {"type": "EmptyImage", "inputs": {"width": 256, "height": 256, "batch_size": 1, "color": 0}},
        "2": {"type": "ImageInvert", "inputs": {"image": ["1", 0]}},
        "3": {"type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "bench"}},
        "4": {"type": "PrimitiveStringMultiline", "inputs": {"value": "hello"}},
        "5": {"type": "SaveText", "inputs": {"text": ["4", 0], "filename_prefix": "bench", "format": "txt"}},
    }
}
APP = {
    "inputs": [
        {"name": "width", "node": "1", "input": "width", "max": 1024},
        {"name": "color", "node": "1", "input": "color"},
        {"name": "prompt", "node": "4", "input": "value"},
    ],
    "outputs": [{"name": "image", "node": "3"}, {"name": "text", "node": "5"}],
}
INPUTS = {"width": 256, "color": 1234, "prompt": "a cached prompt"}
OVERRIDES = {"1": {"width": 256, "color": 1234}, "4": {"value": "a cached prompt"}}


def main() -> int:
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    os.environ["FLOWYARD_VAR_DIR"] = tempfile.mkdtemp(prefix="flowyard-apps-bench-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from backend.accounts.actions import do_create_token, do_create_user
    from backend.accounts.models import Workspace
    from backend.flowapps.actions import do_create_app_key, do_publish_app
    from backend.workflows.actions import do_create_workflow
    from backend.workflows.documents import parse_document

    call_command("migrate", verbosity=0)
    user = do_create_user("bench", "correct horse battery staple", "bench@example.com")
    workspace = Workspace.objects.get(memberships__user=user)
    workflow = do_create_workflow(user, workspace, "Bench", parse_document(GRAPH, {"app": APP}))
    app = do_publish_app(user, workflow.versions.get(), slug="bench", title="Bench")
    runs_client = Client(HTTP_AUTHORIZATION=f"Bearer {do_create_token(user, 'bench')[1]}")
    app_client = Client(HTTP_AUTHORIZATION=f"Bearer {do_create_app_key(app, user, 'bench').raw}")

    def timed(post: Callable[[], Any], get: Callable[[str], Any]) -> tuple[float, float]:
        began = time.perf_counter()
        answer = post()
        submitted = time.perf_counter() - began
        if answer.status_code != 201:
            raise SystemExit(f"refused: {answer.status_code} {answer.content[:500]!r}")
        run_id = answer.json()["id"]
        while True:
            body = get(run_id).json()
            if body["status"] in ("succeeded", "failed", "cancelled"):
                break
            time.sleep(0.002)
        if body["status"] != "succeeded":
            raise SystemExit(f"run {run_id} {body['status']}: {body.get('error')}")
        return time.perf_counter() - began, submitted

    def through_runs() -> tuple[float, float]:
        return timed(
            lambda: runs_client.post(
                "/api/runs",
                {"workflow": workflow.pk, "overrides": OVERRIDES},
                content_type="application/json",
            ),
            lambda run_id: runs_client.get(f"/api/runs/{run_id}"),
        )

    def through_app() -> tuple[float, float]:
        return timed(
            lambda: app_client.post("/api/apps/bench/runs", INPUTS, content_type="application/json"),
            lambda run_id: app_client.get(f"/api/apps/bench/runs/{run_id}"),
        )

    def report(name: str, samples: list[tuple[float, float]]) -> float:
        totals = [total for total, _ in samples]
        median = statistics.median(totals)
        line = {
            "name": name,
            "seconds": round(median, 4),
            "best_seconds": round(min(totals), 4),
            "submit_seconds": round(statistics.median(s for _, s in samples), 4),
            "repeats": len(samples),
        }
        print(json.dumps(line), flush=True)
        return median

    through_runs()  # warm up: imports, the registry, the worker pool, and the cache entry both sides then hit
    through_app()
    runs_samples, app_samples = [], []
    for _ in range(REPEATS):  # interleaved, so that a load change on the machine hits both alike
        runs_samples.append(through_runs())
        app_samples.append(through_app())
    baseline = report("apps.cached.runs_api", runs_samples)
    via_app = report("apps.cached.app_endpoint", app_samples)
    overhead = via_app - baseline
    print(
        json.dumps(
            {
                "name": "apps.cached.overhead",
                "seconds": round(overhead, 4),
                "goal_seconds": GOAL_SECONDS,
                "met": overhead < GOAL_SECONDS,
                "load_average": [round(v, 2) for v in os.getloadavg()],
            }
        ),
        flush=True,
    )
    return 0 if overhead < GOAL_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
