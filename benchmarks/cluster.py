"""Scale-out benchmarks: several Celery worker processes on Postgres + Redis, driven through the HTTP API.

Run ``python -m benchmarks.cluster`` (``make bench``). Starts its own stack (a fresh database
``flowyard_bench_cluster``, Redis database 8, queues of its own, blobs in a temporary directory shared by the
workers as a bucket would be), stops every process by PID, and prints one JSON object per line:

- ``cluster.throughput``: 100 small runs (20-node chains) with one worker, then with two (``-c 1`` each), and the
  scaling ratio. Fair-use limits are raised for this user so that the workers, not the limits, are measured.
- ``cluster.cache_reuse``: a 500-node chain run on worker A, then the same graph on worker B (A stopped): B loads
  A's cache entries instead of executing; compared with a cold 500-chain on B.
- ``cluster.model_load``: a tiny ModelScope model (the modelscope pack's pixel-transform test model) in a shared
  ``MODELSCOPE_CACHE``; the ColorEnhance node's duration on its first run in a worker (cold: load from disk) and
  on a later run with other inputs (warm: the model manager's in-memory copy).
- ``cluster.sigkill_recovery``: a run in progress on one worker, SIGKILL to that worker (and its pool), seconds
  until the run finishes on the other worker (recovery: heartbeats + beat's sweep, backend/runs/recovery.py).
  Printed as skipped when this checkout has no run recovery.

No targets: the figures are recorded in docs/benchmarks.md; the exit status is non-zero only when a run fails.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.api import Client, Stack, chain, emit, fresh, machine, ms, slow

RUNS = 100
MODEL_ID = "flowyard/pixel-transform-bench"


def write_tiny_model(cache: Path) -> None:
    """The modelscope pack's tiny pixel-transform model, registered in ``cache`` as MODEL_ID."""
    import torch

    from nodepacks.modelscope.architectures import pixel_transform_net, save_pixel_transform
    from workers.runtime.models import register_local_model

    torch.manual_seed(7)
    net = pixel_transform_net(hidden=6)
    source = cache.parent / "model-src"
    save_pixel_transform(source, net)
    register_local_model(source, MODEL_ID, cache_dir=cache)


def enhance_graph(color: int) -> dict[str, Any]:
    return {
        "nodes": {
            "1": {
                "type": "EmptyImage",
                "inputs": {"width": 32, "height": 32, "batch_size": 1, "color": color},
            },
            "2": {"type": "modelscope.ColorEnhance", "inputs": {"image": ["1", 0], "model_id": MODEL_ID}},
            "3": {"type": "PreviewImage", "inputs": {"images": ["2", 0]}},
        },
        "outputs": ["3"],
    }


async def wait_done(client: Client, run_ids: list[str], timeout: float = 600) -> list[dict[str, Any]]:
    """Poll until every run has finished; fail the benchmark if one did not succeed."""
    deadline = time.monotonic() + timeout
    pending = set(run_ids)
    details: dict[str, dict[str, Any]] = {}
    while pending:
        if time.monotonic() > deadline:
            raise SystemExit(f"{len(pending)} runs not finished after {timeout} s")
        page = await client.http.get("/api/runs", params={"mine": 1, "limit": 200})
        page.raise_for_status()
        for run in page.json()["results"]:
            if run["id"] in pending and run["status"] in ("succeeded", "failed", "cancelled"):
                pending.discard(run["id"])
                details[run["id"]] = run
        if pending:
            await asyncio.sleep(0.1)
    failed = [d for d in details.values() if d["status"] != "succeeded"]
    if failed:
        raise SystemExit(f"runs failed: {[(d['id'], d['status'], d['error']) for d in failed[:3]]}")
    return [details[r] for r in run_ids]


async def throughput(client: Client, workers: int) -> dict[str, Any]:
    began = time.perf_counter()
    in_flight = asyncio.Semaphore(8)  # a busy client, not 100 simultaneous connections

    async def submit() -> str:
        async with in_flight:
            return await client.submit(chain(20, fresh()))

    ids = await asyncio.gather(*(submit() for _ in range(RUNS)))
    details = await wait_done(client, list(ids))
    elapsed = time.perf_counter() - began
    durations = [d["duration"] for d in details if d["duration"] is not None]
    return emit(
        {
            "name": "cluster.throughput",
            "workers": workers,
            "runs": RUNS,
            "seconds": round(elapsed, 3),
            "runs_per_s": round(RUNS / elapsed, 2),
            "median_run_seconds": round(statistics.median(durations), 4),
            **machine(),
        }
    )


async def node_duration(client: Client, run_id: str, node: str) -> float | None:
    detail = await client.detail(run_id)
    [row] = [n for n in detail["nodes"] if n["node_id"] == node]
    return row["duration"]


async def main_async() -> int:
    s = Stack(
        "celery",
        database="flowyard_bench_cluster",
        redis_db=8,
        FLOWYARD_MAX_RUNNING_PER_USER="100",
        FLOWYARD_MAX_RUNNING_PER_WORKSPACE="100",
    )
    models = Path(s.env["MODELSCOPE_CACHE"])
    ok = False
    try:
        write_tiny_model(models)
        s.start_web()
        s.start_worker("worker-a")
        client = await Client.sign_up(s.url)
        await client.run_and_watch(chain(5, fresh()))  # warm up

        # Throughput, one worker; the model on A cold then warm; a 500-chain on A (cache entries for B).
        one = await throughput(client, 1)
        cold = await client.run_and_watch(enhance_graph(0x336699))
        warm = await client.run_and_watch(enhance_graph(0x996633))
        cold_s = await node_duration(client, str(cold["run"]), "2")
        warm_s = await node_duration(client, str(warm["run"]), "2")
        emit(
            {
                "name": "cluster.model_load",
                "model": MODEL_ID,
                "cold_node_ms": ms(cold_s or 0),
                "warm_node_ms": ms(warm_s or 0),
                "cold_run_ms": ms(cold["done"]),
                "warm_run_ms": ms(warm["done"]),
                **machine(),
            }
        )
        shared = chain(500, fresh())
        on_a = await client.run_and_watch(shared)

        # Two workers.
        s.start_worker("worker-b")
        two = await throughput(client, 2)
        emit(
            {
                "name": "cluster.scaling",
                "one_worker_runs_per_s": one["runs_per_s"],
                "two_workers_runs_per_s": two["runs_per_s"],
                "ratio": round(two["runs_per_s"] / one["runs_per_s"], 2),
                **machine(),
            }
        )

        # B reuses A's cache entries: stop A so that B takes the run.
        s.stop("worker-a")
        reused = await client.run_and_watch(shared)
        reused_detail = await client.detail(str(reused["run"]))
        cold_b = await client.run_and_watch(chain(500, fresh()))
        emit(
            {
                "name": "cluster.cache_reuse",
                "n": 500,
                "worker_a_cold_ms": ms(on_a["done"]),
                "worker_b_cold_ms": ms(cold_b["done"]),
                "worker_b_from_a_cache_ms": ms(reused["done"]),
                "saved_ms": ms(cold_b["done"] - reused["done"]),
                "ran_on": reused_detail["worker"].split("@")[0],
                "cached_nodes": reused["cached"],
                **machine(),
            }
        )

        await sigkill_recovery(s, client)
        await client.close()
        ok = True
    finally:
        s.close(keep=not ok)
    return 0


async def sigkill_recovery(s: Stack, client: Client) -> None:
    if importlib.util.find_spec("backend.runs.recovery") is None:
        emit(
            {
                "name": "cluster.sigkill_recovery",
                "skipped": "no run recovery in this checkout (backend/runs/recovery)",
            }
        )
        return
    s.start_worker("worker-a")
    s.start_beat()
    run_id = await client.submit(slow(steps=100, step_seconds=0.05, value=fresh()))  # 5 s of work
    deadline = time.monotonic() + 60
    worker = ""
    while time.monotonic() < deadline:
        detail = await client.detail(run_id)
        if detail["status"] == "running" and detail["worker"] and detail["last_seq"] >= 3:
            worker = detail["worker"].split("@")[0]
            break
        await asyncio.sleep(0.05)
    if worker not in s.processes:
        emit(
            {
                "name": "cluster.sigkill_recovery",
                "skipped": f"could not see the run running on a worker ({worker!r})",
            }
        )
        return
    survivor = "worker-b" if worker == "worker-a" else "worker-a"
    s.processes[worker].kill()
    killed = time.perf_counter()
    s.processes.pop(worker)
    deadline = time.monotonic() + 240
    detail = {}
    while time.monotonic() < deadline:
        detail = await client.detail(run_id)
        if detail["status"] in ("succeeded", "failed", "cancelled"):
            break
        await asyncio.sleep(0.1)
    elapsed = time.perf_counter() - killed
    emit(
        {
            "name": "cluster.sigkill_recovery",
            "killed": worker,
            "status": detail.get("status"),
            "finished_on": (detail.get("worker") or "").split("@")[0],
            "expected_on": survivor,
            "attempts": detail.get("attempts"),
            "seconds": round(elapsed, 2) if detail.get("status") == "succeeded" else None,
            "heartbeat_s": s.env.get("FLOWYARD_WORKER_HEARTBEAT_SECONDS", "default (5)"),
            "lost_after_s": s.env.get("FLOWYARD_WORKER_LOST_SECONDS", "default (30)"),
            "sweep_s": s.env.get("FLOWYARD_SWEEP_SECONDS", "default (10)"),
            **machine(),
        }
    )
    if detail.get("status") != "succeeded":
        print(json.dumps({"recovery_detail": {k: detail.get(k) for k in ("status", "error", "worker")}}))


def main() -> int:
    return asyncio.run(main_async())


if __name__ == "__main__":
    sys.exit(main())
