"""Where a long chain's CPU goes in process: ``execute_run`` of an IntMath chain, thread by thread (issue 14).

Run ``python -m benchmarks.chain_cpu [--nodes 5000] [--runs 3] [--profile]``. Sets up a fresh database (SQLite
in a temporary directory, or ``DATABASE_URL``'s, whose tables it migrates and fills), queues a chain of
PrimitiveInt -> IntMath add x (nodes - 1) with the scheduler's hand-off stopped, and calls ``execute_run`` on
this thread, with the shared cache (memory tier in front of the database index) and the event recorder as a
worker has them; events are published to the in-memory channel layer. Prints one JSON object per run: wall
seconds, CPU of the run's thread, of the recorder's writer thread, of the cache flusher thread and of the whole
process, each also per node in microseconds, with the load average and CPU model. ``--profile`` adds cProfile of
the run's thread and of the writer and flusher threads (top functions by own time, to stderr).

No target: the figure it informs is issue 14's per-node platform cost (``benchmarks.api --only comfy``).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, os.getcwd())  # run from a worktree's root: its code, not this file's checkout


def setup(tmp: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
    os.environ["FLOWYARD_VAR_DIR"] = str(tmp / "var")
    os.environ["FLOWYARD_BLOB_DIR"] = str(tmp / "blobs")
    os.environ["FLOWYARD_NODE_PACKS"] = "nodepacks.core"
    os.environ.setdefault("SECRET_KEY", "bench-" + uuid.uuid4().hex)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.pop("REDIS_URL", None)
    (tmp / "var").mkdir(parents=True, exist_ok=True)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)
    if os.environ.get("DATABASE_URL"):
        call_command("flush", "--noinput", verbosity=0)


def chain(length: int, start: int) -> dict[str, Any]:
    nodes: dict[str, Any] = {"0": {"type": "PrimitiveInt", "inputs": {"value": start}}}
    for i in range(1, length):
        nodes[str(i)] = {"type": "IntMath", "inputs": {"a": [str(i - 1), 0], "b": 1, "operation": "add"}}
    return {"nodes": nodes, "outputs": [str(length - 1)]}


def thread_cpu(thread: threading.Thread | None) -> float:
    if thread is None or thread.ident is None or not thread.is_alive():
        return 0.0
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
    except (OSError, ProcessLookupError):
        return 0.0


def machine() -> dict[str, Any]:
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"load": [float(x) for x in load], "cpu": model}


def top(profile: cProfile.Profile, title: str, limit: int) -> None:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("tottime").print_stats(limit)
    print(f"===== {title} =====", file=sys.stderr)
    print("\n".join(out.getvalue().splitlines()[: limit + 12]), file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--label", default="")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="flowyard-chain-cpu-"))
    setup(tmp)

    from backend.accounts.actions import do_create_team, do_create_user
    from backend.cache import stores
    from backend.runs import execution, scheduling
    from backend.runs.actions import do_create_run

    queued: list[Any] = []
    scheduling._submit = lambda runs: queued.extend(runs)

    writer_cpu: list[float] = []
    writer_profiles: list[cProfile.Profile] = []
    original_loop = execution.EventRecorder._loop

    def loop(self: Any) -> None:
        profile = cProfile.Profile() if args.profile else None
        if profile is not None:
            profile.enable()
        try:
            original_loop(self)
        finally:
            if profile is not None:
                profile.disable()
                writer_profiles.append(profile)
            writer_cpu.append(time.thread_time())

    execution.EventRecorder._loop = loop  # type: ignore[method-assign]

    flusher_profile = cProfile.Profile() if args.profile else None
    if flusher_profile is not None:
        original_flush = stores.DatabaseCacheStore._flush_on_timer

        def flush_on_timer(self: Any) -> None:
            if threading.current_thread().name == "flowyard-cache-flush":
                flusher_profile.enable()
                try:
                    original_flush(self)
                finally:
                    flusher_profile.disable()
            else:
                original_flush(self)

        stores.DatabaseCacheStore._flush_on_timer = flush_on_timer  # type: ignore[method-assign]

    user = do_create_user(f"bench{uuid.uuid4().hex[:6]}", "bench password 1234", "bench@example.com")
    team = do_create_team(user, "Bench")
    run_profile = cProfile.Profile() if args.profile else None

    # One small run first: imports, the registry, connections, the flusher thread.
    for index in range(args.runs + 1):
        nodes = args.nodes if index else 5
        queued.clear()
        run = do_create_run(user, workspace=team, graph=chain(nodes, uuid.uuid4().int % 1_000_000_000))
        run_id = queued[0] if queued else run.pk
        writer_cpu.clear()
        flusher = stores._the_flusher.thread if stores._the_flusher is not None else None
        flusher0 = thread_cpu(flusher)
        began, cpu0, process0 = time.perf_counter(), time.thread_time(), time.process_time()
        if run_profile is not None and index:
            run_profile.enable()
        status = execution.execute_run(run_id, "bench")
        if run_profile is not None and index:
            run_profile.disable()
        wall = time.perf_counter() - began
        cpu = time.thread_time() - cpu0
        process = time.process_time() - process0
        flusher = stores._the_flusher.thread if stores._the_flusher is not None else flusher
        flushed = thread_cpu(flusher) - flusher0 if flusher is not None else 0.0
        if not index:
            continue
        writer = sum(writer_cpu)

        def us(seconds: float, nodes: int = nodes) -> float:
            return round(seconds / nodes * 1e6, 1)

        row = {
            "name": "chain_cpu",
            "label": args.label,
            "nodes": nodes,
            "status": status,
            "database": "postgresql" if os.environ.get("DATABASE_URL") else "sqlite",
            "wall_s": round(wall, 3),
            "run_thread_us": us(cpu),
            "writer_us": us(writer),
            "flusher_us": us(flushed),
            "process_us": us(process),
            "time": time.strftime("%H:%M:%S", time.gmtime()),
            **machine(),
        }
        print(json.dumps(row), flush=True)
    if run_profile is not None:
        top(run_profile, "run's thread", args.top)
        if writer_profiles:
            out = io.StringIO()
            stats = pstats.Stats(writer_profiles[0], stream=out)
            for extra in writer_profiles[1:]:
                stats.add(extra)
            stats.sort_stats("tottime").print_stats(args.top)
            print("===== recorder's writer thread =====", file=sys.stderr)
            print("\n".join(out.getvalue().splitlines()[: args.top + 12]), file=sys.stderr)
        if flusher_profile is not None:
            top(flusher_profile, "cache flusher thread", args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
