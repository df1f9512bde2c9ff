"""Webhook deliveries to a slow, flaky receiver: none lost, duplicates only under the same ``webhook-id``.

Run ``python -m benchmarks.webhooks`` (``--mode embedded``, the default: the web process's delivery pool, as with
``make run``; ``--mode celery``: a Celery worker subprocess consuming a queue of its own on Redis). A fresh
Postgres database (``flowyard_bench_hooks``) holds a team, a workflow and one webhook; ``--count`` (1,000) finished
runs are recorded through ``record_run_finished`` (what the ``run_finished`` signal does), which queues one delivery
each. The receiver is a threaded ``http.server`` on 127.0.0.1 that sleeps ``--delay-ms`` (50) per request and
answers 500 to ``--fail-rate`` (10%) of them at random, else 200; it checks every signature. Retries follow the
production schedule scaled by ``--retry-scale`` (0.01: 5 s becomes 50 ms, 30 s 0.3 s...), and the automation tick
runs every second as in embedded mode.

Prints JSON lines: the run's figures (requests, acknowledged ids, lost, duplicate acknowledgements, attempts per
delivery, deliveries/s, event-to-acknowledged p50/p95/max) with the load average, then a verdict. Exits non-zero
if a delivery is lost, a signature fails, or an id is acknowledged twice with different bodies.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get("FLOWYARD_BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("FLOWYARD_BENCH_HOOKS_REDIS", "redis://127.0.0.1:6379/13")
DATABASE = "flowyard_bench_hooks"


def emit(row: dict[str, Any]) -> dict[str, Any]:
    row["load"] = [round(value, 2) for value in os.getloadavg()]
    print(json.dumps(row), flush=True)
    return row


class Receiver:
    """Sleeps ``delay`` per request, answers 500 to ``fail_rate`` of them; records what it acknowledged."""

    def __init__(self, secret_box: dict[str, str], delay: float, fail_rate: float, seed: int) -> None:
        self.requests = 0
        self.acknowledged: dict[str, list[bytes]] = {}
        self.bad_signatures = 0
        self.lock = threading.Lock()
        rng = random.Random(seed)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as most receivers

            def do_POST(self) -> None:
                from backend.automation.signing import SignatureError, verify

                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                time.sleep(delay)
                try:
                    message_id = verify(secret_box["secret"], dict(self.headers.items()), body)
                except SignatureError:
                    with outer.lock:
                        outer.bad_signatures += 1
                    self._answer(400)
                    return
                with outer.lock:
                    outer.requests += 1
                    fail = rng.random() < fail_rate
                    if not fail:
                        outer.acknowledged.setdefault(message_id, []).append(body)
                self._answer(500 if fail else 200)

            def _answer(self, code: int) -> None:
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.request_queue_size = 256
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"


def fresh_database() -> str:
    import psycopg

    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    return f"{PG_URL}/{DATABASE}"


def start_worker(env: dict[str, str], queue: str, log: Path) -> subprocess.Popen[bytes]:
    args = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "backend",
        "worker",
        "-Q",
        queue,
        "-P",
        "threads",
        "-c",
        "16",
    ]
    args += ["-n", f"bench-hooks-{uuid.uuid4().hex[:6]}@127.0.0.1", "--without-gossip", "--without-mingle"]
    args += ["--loglevel=INFO"]
    process = subprocess.Popen(args, env=env, cwd=REPO, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while "ready." not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the Celery worker did not start:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.2)
    return process


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["embedded", "celery"], default="embedded")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--delay-ms", type=float, default=50)
    parser.add_argument("--fail-rate", type=float, default=0.10)
    parser.add_argument("--retry-scale", type=float, default=0.01)
    parser.add_argument("--workers", type=int, default=16, help="embedded mode: delivery threads")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()

    queue = f"flowyard.hooks.bench-{uuid.uuid4().hex[:8]}"
    env = {
        "DATABASE_URL": fresh_database(),
        "DJANGO_SETTINGS_MODULE": "backend.settings",
        "FLOWYARD_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32",
        "FLOWYARD_WEBHOOK_RETRY_SCALE": str(args.retry_scale),
        "FLOWYARD_WEBHOOK_WORKERS": str(args.workers),
        "FLOWYARD_WEBHOOK_SWEEP_GRACE_SECONDS": "5",
        "FLOWYARD_DISPATCHER": "local" if args.mode == "embedded" else "celery",
        "FLOWYARD_AUTOMATION_QUEUE": queue,
        "FLOWYARD_VAR_DIR": tempfile.mkdtemp(prefix="flowyard-bench-hooks-"),
    }
    if args.mode == "celery":
        env["REDIS_URL"] = REDIS_URL
    os.environ.update(env)
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from backend.accounts.actions import do_create_team, do_create_user
    from backend.automation.actions import do_create_webhook
    from backend.automation.delivery import record_run_finished
    from backend.automation.models import WebhookDelivery
    from backend.automation.tick import Ticker
    from backend.runs.models import Run

    call_command("migrate", verbosity=0)
    worker = None
    if args.mode == "celery":
        worker_env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "CELERY_"))}
        worker = start_worker(worker_env, queue, Path(env["FLOWYARD_VAR_DIR"]) / "worker.log")

    user = do_create_user("bench", "correct horse battery staple", "bench@example.com")
    team = do_create_team(user, "Bench")
    secret_box: dict[str, str] = {}
    receiver = Receiver(secret_box, args.delay_ms / 1000, args.fail_rate, args.seed)
    hook = do_create_webhook(user, workspace=team, workflow=None, url=receiver.url, events=["run.finished"])
    secret_box["secret"] = hook.secret
    now = timezone.now()
    runs = Run.objects.bulk_create(
        [
            Run(workspace=team, graph={}, created_by=user, status=Run.Status.SUCCEEDED, finished=now)
            for _ in range(args.count)
        ]
    )
    ticker = Ticker(1.0)
    ticker.start()
    started = time.monotonic()
    for run in runs:  # what the run_finished receiver does for each run's end
        record_run_finished(run.pk)
    recorded = time.monotonic() - started
    deadline = started + args.timeout
    while WebhookDelivery.objects.exclude(state=WebhookDelivery.State.SUCCEEDED).exists():
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    elapsed = time.monotonic() - started
    ticker.stop()

    deliveries = list(WebhookDelivery.objects.values("id", "state", "attempts", "created", "delivered"))
    ids = {f"msg_{row['id'].hex}" for row in deliveries}
    with receiver.lock:
        acknowledged = dict(receiver.acknowledged)
        requests, bad = receiver.requests, receiver.bad_signatures
    lost = sorted(ids - set(acknowledged))
    unknown = sorted(set(acknowledged) - ids)
    duplicates = sum(len(bodies) - 1 for bodies in acknowledged.values())
    changed = sum(1 for bodies in acknowledged.values() if len(set(bodies)) > 1)
    latencies = sorted(
        (row["delivered"] - row["created"]).total_seconds()
        for row in deliveries
        if row["delivered"] is not None
    )
    attempts = [row["attempts"] for row in deliveries]
    histogram = {str(n): attempts.count(n) for n in sorted(set(attempts))}
    row = emit(
        {
            "benchmark": "webhook_deliveries",
            "mode": args.mode,
            "deliveries": len(deliveries),
            "runs": args.count,
            "receiver_delay_ms": args.delay_ms,
            "fail_rate": args.fail_rate,
            "retry_scale": args.retry_scale,
            "requests": requests,
            "acknowledged_ids": len(acknowledged),
            "lost": len(lost),
            "unknown_ids": len(unknown),
            "duplicate_acks_same_id": duplicates,
            "duplicate_ids_with_other_body": changed,
            "bad_signatures": bad,
            "attempts_histogram": histogram,
            "states": {
                state: sum(1 for r in deliveries if r["state"] == state)
                for state in ("pending", "succeeded", "failed")
            },
            "record_s": round(recorded, 2),
            "total_s": round(elapsed, 2),
            "deliveries_per_s": round(len(acknowledged) / elapsed, 1) if elapsed else None,
            "event_to_ack_p50_s": round(statistics.median(latencies), 3) if latencies else None,
            "event_to_ack_p95_s": round(latencies[int(0.95 * (len(latencies) - 1))], 3)
            if latencies
            else None,
            "event_to_ack_max_s": round(latencies[-1], 3) if latencies else None,
        }
    )
    if worker is not None:
        worker.terminate()
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            worker.kill()
    receiver.server.shutdown()
    ok = not lost and not unknown and not changed and not bad and row["deliveries"] == args.count
    emit({"benchmark": "webhook_deliveries_verdict", "mode": args.mode, "none_lost": not lost, "ok": ok})
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
