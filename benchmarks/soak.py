"""Soak: a steady stream of small runs with a team's worth of browsers watching, on the production stack.

Run ``python -m benchmarks.soak`` (five minutes; ``--seconds 60`` for a quick pass, as ``make bench`` does).
Starts its own stack (``benchmarks.api.Stack``: uvicorn and two Celery workers, ``-c 1`` each, on a fresh
Postgres database and a Redis database of their own, queues of their own), stops every process by PID, and
prints one JSON object per line:

- ``soak.machine`` / ``soak.machine_after``: CPUs, CPU model and ``/proc/loadavg`` before and after;
- ``soak.runs``: for ``--seconds``, ``--rate`` submits per second (10) of a 3-node chain from one client, paced
  by the clock (a slow answer does not slow the next submit), while ``--watchers`` (100) ``ws/events/`` sockets of
  the same user, in a process of their own, record when each run's final status reaches them. Reports runs
  finished vs submitted once the queue drained (goal: all), the submit latency p50/p99 (goal p99 <= 250 ms),
  the time from a run's ``finished`` (stored by the worker) to its status at each watcher p50/p99 (goal p99
  <= 1 s) and how many (run, watcher) statuses never came, and the CPU seconds each server process used;
- ``soak.rss``: RSS of web and of each worker (with its pool) once the watchers are connected and again after
  the queue drained, with samples in between (goal: flat, under ``RSS_GROWTH_MB`` more at the end);
- ``soak.upload``: one 400 MB WAV streamed by ``curl`` to ``POST /api/uploads`` with a token (the upload limit
  raised to let it in): its status and time, and the web process's peak RSS above idle meanwhile (goal: under
  100 MB).

Fair-use limits are raised for the user, so the platform, not the limits, is measured. A missed goal is named on
stderr; the exit status is non-zero only when a run was lost (not finished once the queue drained).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

from benchmarks.api import Client, Stack, chain, emit, fresh, pct
from benchmarks.web_edge import RssPeak, curl, curl_result, machine, wav_file

WATCHERS = 100
RATE = 10.0
SECONDS = 300
UPLOAD_MB = 400
DRAIN_SECONDS = 180
HANDSHAKES_AT_ONCE = 20
RSS_SAMPLE_SECONDS = 15
TARGET_SUBMIT_P99_MS = 250.0
TARGET_STATUS_P99_MS = 1000.0
RSS_GROWTH_MB = 50.0
TARGET_UPLOAD_RSS_MB = 100.0
FINISHED = ("succeeded", "failed", "cancelled")


# --- the watchers, in a process of their own (their JSON decoding must not delay the submits' timings) ----------


def watch(url: str, count: int, ready: Any, stop: Any, results: Any) -> None:
    """Open ``count`` ``ws/events/`` sockets at ``url``; when ``stop`` is set, put ``{run id: [seconds from the
    run's finished to its final status, per socket]}`` and the sockets closed by the server on ``results``."""
    results.put(asyncio.run(_watch(url, count, ready, stop)))


async def _watch(url: str, count: int, ready: Any, stop: Any) -> dict[str, Any]:
    import websockets

    seen: dict[str, list[float]] = {}
    closed: list[str] = []
    handshakes = asyncio.Semaphore(HANDSHAKES_AT_ONCE)

    async def one(index: int, opened: asyncio.Event) -> None:
        async with handshakes:
            ws = await websockets.connect(url, max_size=None, open_timeout=60)
        opened.set()
        mine: set[str] = set()
        try:
            async for frame in ws:
                now = time.time()
                message = json.loads(frame)
                if message.get("type") != "run.status":
                    continue
                run = message["run"]
                if run["status"] in FINISHED and run["id"] not in mine and run.get("finished"):
                    mine.add(run["id"])
                    finished = datetime.datetime.fromisoformat(run["finished"]).timestamp()
                    seen.setdefault(run["id"], []).append(now - finished)
        except websockets.ConnectionClosed as exc:
            closed.append(f"watcher {index}: {exc}")

    events = [asyncio.Event() for _ in range(count)]
    tasks = [asyncio.create_task(one(i, event)) for i, event in enumerate(events)]
    await asyncio.wait_for(asyncio.gather(*(event.wait() for event in events)), 120)
    ready.set()
    while not stop.is_set():
        await asyncio.sleep(0.2)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {"seen": seen, "closed": closed}


# --- the server's processes ------------------------------------------------------------------------------------


def tree(pid: int) -> list[psutil.Process]:
    process = psutil.Process(pid)
    return [process, *process.children(recursive=True)]


def rss_mb(pid: int) -> float:
    total = 0
    for process in tree(pid):
        with contextlib.suppress(psutil.Error):
            total += process.memory_info().rss
    return round(total / 2**20, 1)


def cpu_seconds(pid: int) -> float:
    total = 0.0
    for process in tree(pid):
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
    return total


def server_rss(stack: Stack) -> dict[str, float]:
    return {name: rss_mb(process.pid) for name, process in stack.processes.items()}


def server_cpu(stack: Stack) -> dict[str, float]:
    return {name: cpu_seconds(process.pid) for name, process in stack.processes.items()}


def run_counts(database_url: str, ids: list[str]) -> dict[str, int]:
    import psycopg

    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT status, count(*) FROM runs_run WHERE id = ANY(%s::uuid[]) GROUP BY status", [ids]
        ).fetchall()
    return {status: count for status, count in rows}


# --- the soak --------------------------------------------------------------------------------------------------


async def submit_steadily(
    client: Client, seconds: float, rate: float, stack: Stack, rss_samples: list[dict[str, Any]]
) -> tuple[list[str], list[float], dict[str, int]]:
    """Submit ``rate`` runs a second for ``seconds``, each on its own schedule; the run ids, each submit's
    seconds, and the failures by status."""
    ids: list[str] = []
    latencies: list[float] = []
    failures: dict[str, int] = {}

    async def submit() -> None:
        started = time.perf_counter()
        try:
            response = await client.http.post(
                "/api/runs", json={"workspace": client.workspace, "graph": chain(3, fresh())}
            )
        except httpx.HTTPError as exc:
            failures[type(exc).__name__] = failures.get(type(exc).__name__, 0) + 1
            return
        latencies.append(time.perf_counter() - started)
        if response.status_code == 201:
            ids.append(response.json()["id"])
        else:
            failures[str(response.status_code)] = failures.get(str(response.status_code), 0) + 1

    began = time.perf_counter()
    pending: set[asyncio.Task[None]] = set()
    total = int(seconds * rate)
    next_sample = began + RSS_SAMPLE_SECONDS
    for i in range(total):
        await asyncio.sleep(max(0.0, began + i / rate - time.perf_counter()))
        task = asyncio.create_task(submit())
        pending.add(task)
        task.add_done_callback(pending.discard)
        if time.perf_counter() >= next_sample:
            next_sample += RSS_SAMPLE_SECONDS
            rss_samples.append({"t": round(time.perf_counter() - began), **server_rss(stack)})
    await asyncio.gather(*pending)
    return ids, latencies, failures


async def wait_drained(database_url: str, ids: list[str], timeout: float) -> tuple[dict[str, int], float]:
    """The runs' statuses once none is queued or running (or ``timeout`` passed), and the seconds waited."""
    began = time.perf_counter()
    while True:
        counts = await asyncio.to_thread(run_counts, database_url, ids)
        if sum(counts.get(s, 0) for s in FINISHED) == len(ids) or time.perf_counter() - began > timeout:
            return counts, time.perf_counter() - began
        await asyncio.sleep(0.5)


async def soak(stack: Stack, args: argparse.Namespace) -> tuple[list[dict[str, Any]], bool]:
    client = await Client.sign_up(stack.url)
    for _ in range(3):  # warm: connections, first queries, the workers' first runs
        await client.run_and_watch(chain(3, fresh()))

    spawn = multiprocessing.get_context("spawn")
    ready, stop, results = spawn.Event(), spawn.Event(), spawn.Queue()
    watchers = spawn.Process(
        target=watch, args=(client.ws_url("/ws/events/"), args.watchers, ready, stop, results), daemon=True
    )
    watchers.start()
    if not await asyncio.to_thread(ready.wait, 180):
        raise SystemExit("the watchers could not connect")
    await asyncio.sleep(3)
    rss_start = server_rss(stack)
    cpu_start = server_cpu(stack)
    samples: list[dict[str, Any]] = [{"t": 0, **rss_start}]
    began = time.perf_counter()
    ids, latencies, failures = await submit_steadily(client, args.seconds, args.rate, stack, samples)
    submitting = time.perf_counter() - began
    counts, drained = await wait_drained(stack.env["DATABASE_URL"], ids, DRAIN_SECONDS)
    await asyncio.sleep(3)  # the last statuses on their way to the watchers
    stop.set()
    watched = await asyncio.to_thread(results.get, True, 60)
    watchers.join(10)
    cpu = {name: round(seconds - cpu_start.get(name, 0.0), 1) for name, seconds in server_cpu(stack).items()}
    rss_end = server_rss(stack)
    samples.append({"t": round(time.perf_counter() - began), **rss_end})

    finished = sum(counts.get(s, 0) for s in FINISHED)
    delays = [d for run_id in ids for d in watched["seen"].get(run_id, [])]
    missing = sum(args.watchers - len(watched["seen"].get(run_id, [])) for run_id in ids)
    runs = emit(
        {
            "name": "soak.runs",
            "seconds": round(submitting, 1),
            "rate_per_s": args.rate,
            "watchers": args.watchers,
            "submitted": len(ids),
            "submit_failures": failures,
            "finished": finished,
            "statuses": counts,
            "drained_after_s": round(drained, 1),
            "submit_p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
            "submit_p99_ms": round(pct(latencies, 99) * 1000, 1),
            "submit_max_ms": round(max(latencies) * 1000, 1) if latencies else None,
            "status_p50_ms": round(statistics.median(delays) * 1000, 1) if delays else None,
            "status_p99_ms": round(pct(delays, 99) * 1000, 1),
            "status_max_ms": round(max(delays) * 1000, 1) if delays else None,
            "statuses_missing": missing,
            "watchers_closed": watched["closed"][:5],
            "server_cpu_s": cpu,
            "goal_submit_p99_ms": TARGET_SUBMIT_P99_MS,
            "goal_status_p99_ms": TARGET_STATUS_P99_MS,
        }
    )
    growth = {name: round(rss_end[name] - rss_start[name], 1) for name in rss_start if name in rss_end}
    rss = emit(
        {
            "name": "soak.rss",
            "start_mb": rss_start,
            "end_mb": rss_end,
            "growth_mb": growth,
            "samples_mb": samples,
            "goal_growth_mb": RSS_GROWTH_MB,
        }
    )
    upload = emit(await asyncio.to_thread(big_upload, stack, client))
    await client.close()
    return [runs, rss, upload], finished == len(ids) and len(ids) > 0


def big_upload(stack: Stack, client: Client) -> dict[str, Any]:
    web = stack.processes["web"].pid
    with tempfile.TemporaryDirectory(prefix="flowyard-soak-") as tmp:
        wav = wav_file(Path(tmp) / "soak.wav", UPLOAD_MB)
        time.sleep(1)
        idle = RssPeak(web).rss()
        with RssPeak(web) as peak:
            upload = curl(
                stack.url + "/api/uploads",
                "-H",
                f"Authorization: Bearer {client.token}",
                "-F",
                f"workspace={client.workspace}",
                "-F",
                "name=soak.wav",
                "-F",
                f"file=@{wav};type=audio/wav",
            )
            result = curl_result(upload)
            time.sleep(0.5)  # memory freed late still counts
        after = RssPeak(web).rss()
    return {
        "name": "soak.upload",
        "body_mb": UPLOAD_MB,
        **result,
        "web_rss_idle_mb": round(idle / 2**20, 1),
        "web_rss_peak_above_idle_mb": round((peak.peak - idle) / 2**20, 1),
        "web_rss_after_above_idle_mb": round((after - idle) / 2**20, 1),
        "goal_rss_mb": TARGET_UPLOAD_RSS_MB,
    }


def missed_goals(rows: list[dict[str, Any]]) -> list[str]:
    runs, rss, upload = rows
    missed = []
    if runs["finished"] < runs["submitted"] or runs["submit_failures"]:
        missed.append(f"runs finished {runs['finished']} of {runs['submitted']} ({runs['submit_failures']})")
    if runs["submit_p99_ms"] > TARGET_SUBMIT_P99_MS:
        missed.append(f"submit p99 {runs['submit_p99_ms']} ms > {TARGET_SUBMIT_P99_MS}")
    if runs["status_p99_ms"] > TARGET_STATUS_P99_MS or runs["statuses_missing"]:
        missed.append(f"status p99 {runs['status_p99_ms']} ms, {runs['statuses_missing']} missing")
    grown = {name: mb for name, mb in rss["growth_mb"].items() if mb > RSS_GROWTH_MB}
    if grown:
        missed.append(f"RSS grew (MB): {grown}")
    if upload["status"] not in (200, 201) or upload["web_rss_peak_above_idle_mb"] > TARGET_UPLOAD_RSS_MB:
        missed.append(f"upload {upload['status']}, web peak +{upload['web_rss_peak_above_idle_mb']} MB")
    return missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=SECONDS, help="how long to submit (default 300)")
    parser.add_argument("--rate", type=float, default=RATE, help="submits per second (default 10)")
    parser.add_argument("--watchers", type=int, default=WATCHERS, help="ws/events/ sockets (default 100)")
    parser.add_argument("--database", default="flowyard_bench_soak", help="Postgres database (recreated)")
    parser.add_argument("--redis-db", type=int, default=10, help="Redis database number (flushed)")
    args = parser.parse_args()
    emit({"name": "soak.machine", **machine()})
    stack = Stack(
        "celery",
        database=args.database,
        redis_db=args.redis_db,
        FLOWYARD_MAX_RUNNING_PER_USER="1000",
        FLOWYARD_MAX_RUNNING_PER_WORKSPACE="1000",
        FLOWYARD_MAX_UPLOAD_BYTES=str((UPLOAD_MB + 100) * 2**20),
    )
    ok = False
    try:
        stack.start_web()
        stack.start_worker("worker-a")
        stack.start_worker("worker-b")
        rows, ok = asyncio.run(soak(stack, args))
    finally:
        stack.close(keep=not ok)
    emit({"name": "soak.machine_after", **machine()})
    missed = missed_goals(rows)
    if missed:
        print("goals missed: " + "; ".join(missed), file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
