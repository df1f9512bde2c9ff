"""The web tier under heavy request bodies, per ASGI server: does a big body stall the others?

Run ``python -m benchmarks.web_edge`` (``make bench``; ``--server uvicorn|uvicorn-2|daphne|hypercorn|granian``
for one).
Each server serves the embedded stack (SQLite in a temporary directory, ``benchmarks.api.Stack``), started here
and stopped by PID; uploads are sent by ``curl`` subprocesses (streamed from a file, so the client's own event
loop does not skew the health timings). Prints one JSON object per line:

- ``health_under_load``: p50/p99/max of ``GET /api/health`` (one at a time, back to back) while five 60 MB WAV
  uploads and a 20,000-node submit run at once (goal: p99 < 100 ms), with each upload's status and time;
- ``declared_413``: time to the 413 of a 400 MB upload declared by ``Content-Length`` (goal: < 100 ms), and
  peak web RSS above idle meanwhile (goal: < 100 MB);
- ``chunked_413``: the same body sent chunked (no ``Content-Length``): the limit applies while it streams;
- ``anonymous_413``: a 200 MB POST without credentials.

``--only submit_scaling`` (also part of a default run, on uvicorn): is the cost of ``POST /api/runs`` linear in the
graph's size? Chains of 1,000, 5,000 and 20,000 nodes (the default ``FLOWYARD_MAX_GRAPH_NODES``) are submitted
one at a time, ``FLOWYARD_SCALING_REPEATS`` (5) times each after one untimed submit per size, each run waited for
before the next submit; one ``submit_scaling`` row per size (p50 ms, ms per node) and a ``submit_scaling_ratio``
row: the per-node cost at 20,000 over that at 1,000, which must stay within ``SCALING_BOUND`` (2x; the exit
status is non-zero when it does not).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psutil

from benchmarks.api import BIN, Process, Stack, emit, port_open

UPLOAD_MB = 60
UPLOADS = 5
PASSES = int(os.environ.get("FLOWYARD_EDGE_PASSES", "3"))
GRAPH_NODES = 20_000
BIG_MB = 400
ANONYMOUS_MB = 200
TARGET_HEALTH_P99_MS = 100.0
TARGET_413_MS = 100.0
TARGET_RSS_MB = 100.0
# The ASGI servers compared (issue 13): the served one (uvicorn, one process and two, as production runs several)
# and the others measured beside it (hypercorn and granian come with the dev extra).
SERVERS = ["uvicorn", "uvicorn-2", "daphne", "hypercorn", "granian"]


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "loadavg": Path("/proc/loadavg").read_text().strip(),
        "cpu": next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            "?",
        ),  # fmt: skip
    }


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else float("nan")


def wav_file(path: Path, megabytes: int) -> Path:
    """A valid 16-bit mono WAV of about ``megabytes`` (silence), so the upload takes the success path."""
    data = megabytes * 1024 * 1024
    header = b"RIFF" + struct.pack("<I", 36 + data) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 44100,
                                                                              88200, 2, 16)  # fmt: skip
    with path.open("wb") as out:
        out.write(header + b"data" + struct.pack("<I", data))
        out.truncate(44 + data)
    return path


def raw_file(path: Path, megabytes: int) -> Path:
    with path.open("wb") as out:
        out.truncate(megabytes * 1024 * 1024)
    return path


def big_graph(nodes: int, value: int = 1) -> dict[str, Any]:
    """A chain of ``nodes`` IntMath nodes asking only for its first node: the whole graph is validated at
    submit, one node runs. ``value`` (the first node's) makes a graph new to the cache."""
    graph: dict[str, Any] = {"0": {"type": "PrimitiveInt", "inputs": {"value": value}}}
    for i in range(1, nodes):
        graph[str(i)] = {"type": "IntMath", "inputs": {"a": [str(i - 1), 0], "b": 1, "operation": "add"}}
    return {"nodes": graph, "outputs": ["0"]}


class WebStack(Stack):
    """``benchmarks.api.Stack`` served by the chosen ASGI server."""

    def __init__(self, server: str, *, max_upload_bytes: int) -> None:
        self.server = server
        super().__init__("embedded", FLOWYARD_MAX_UPLOAD_BYTES=str(max_upload_bytes))

    def start_web(self) -> None:
        if self.server == "daphne":
            args = [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(self.port), "backend.asgi:application"]
        elif self.server == "hypercorn":
            args = [str(BIN / "hypercorn"), "-b", f"127.0.0.1:{self.port}", "backend.asgi:application"]
        elif self.server == "granian":  # asginl: ASGI without lifespan (Channels' router has none)
            args = [str(BIN / "granian"), "--interface", "asginl", "--host", "127.0.0.1", "--port", str(self.port),
                    "backend.asgi:application"]  # fmt: skip
        else:
            args = [str(BIN / "uvicorn"), "--host", "127.0.0.1", "--port", str(self.port), "--lifespan", "off",
                    "--no-access-log", "backend.asgi:application"]  # fmt: skip
            if self.server == "uvicorn-2":  # two processes, as production serves (docs/deploy.md)
                args += ["--workers", "2"]
        web = Process("web", args, self.env, self.tmp)
        self.processes["web"] = web
        web.wait_ready(lambda: port_open(self.port), 60, self.server)

    @property
    def web_pid(self) -> int:
        return self.processes["web"].pid


def sign_up(base: str) -> tuple[str, int]:
    """A new user's API token and personal workspace id."""
    with httpx.Client(base_url=base, timeout=60) as browser:
        browser.get("/api/auth/csrf")
        headers = {"X-CSRFToken": browser.cookies["csrftoken"], "Referer": base + "/"}
        credentials = {"username": f"edge-{uuid.uuid4().hex[:10]}", "password": f"pw-{uuid.uuid4().hex}"}
        browser.post("/api/auth/signup", json=credentials, headers=headers).raise_for_status()
        login = browser.post("/api/auth/login", json=credentials, headers=headers)
        login.raise_for_status()
        headers["X-CSRFToken"] = browser.cookies.get("csrftoken") or headers["X-CSRFToken"]
        token = browser.post("/api/tokens", json={"name": "edge"}, headers=headers)
        token.raise_for_status()
        return token.json()["token"], login.json()["personal_workspace"]["id"]


class RssPeak:
    """Samples the web process's RSS (with its children) every 10 ms until stopped."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = self.rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss(self) -> int:
        total = 0
        for proc in [self.process, *self.process.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                total += proc.memory_info().rss
        return total

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self.rss())

    def __enter__(self) -> RssPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def curl(url: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{time_total}",
            "--max-time",
            "300",
            *args,
            url,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )


def curl_result(process: subprocess.Popen) -> dict[str, Any]:
    out, _ = process.communicate()
    code, _, seconds = (out or "0 0").partition(" ")
    return {"status": int(code), "ms": round(float(seconds or 0) * 1000, 1)}


def upload_wav(stack: WebStack, auth: str, workspace: int, wav: Path, name: str) -> subprocess.Popen:
    return curl(stack.url + "/api/uploads", "-H", auth, "-F", f"workspace={workspace}", "-F", f"name={name}",
                "-F", f"file=@{wav};type=audio/wav")  # fmt: skip


def warm_up(stack: WebStack, auth: str, workspace: int, wav: Path, files: Path) -> None:
    """One upload and one small run before measuring: a server's first upload imports the media sniffers and
    its first run loads the node packs and freezes the heap (backend/gc_tuning.py), once per process. A
    server of several processes gets one of each per process (a few tries land on each)."""
    small = files / "small.json"
    small.write_text(json.dumps({"workspace": workspace, "graph": big_graph(3)}))
    for i in range(2 if stack.server == "uvicorn" else 6):
        curl_result(upload_wav(stack, auth, workspace, wav, f"warm-{i}.wav"))
        curl_result(curl(stack.url + "/api/runs", "-H", auth, "-H", "Content-Type: application/json",
                         "--data-binary", f"@{small}"))  # fmt: skip
    time.sleep(1)


def health_under_load(stack: WebStack, token: str, workspace: int, files: Path) -> dict[str, Any]:
    """``PASSES`` times: five 60 MB uploads and a 20,000-node submit at once, ``/api/health`` polled until they
    end; the health latencies of all passes pooled."""
    wav = wav_file(files / "upload.wav", UPLOAD_MB)
    graph = files / "graph.json"
    graph.write_text(json.dumps({"workspace": workspace, "graph": big_graph(GRAPH_NODES)}))
    auth = f"Authorization: Bearer {token}"
    warm_up(stack, auth, workspace, wav, files)
    latencies: list[float] = []
    passes: list[dict[str, Any]] = []
    with httpx.Client(base_url=stack.url, timeout=60) as client:
        for _ in range(5):  # warm: connections, first queries
            client.get("/api/health")
        idle = RssPeak(stack.web_pid).rss()
        with RssPeak(stack.web_pid) as rss:
            for number in range(PASSES):
                started = time.perf_counter()
                uploads = [
                    upload_wav(stack, auth, workspace, wav, f"load-{number}-{i}.wav") for i in range(UPLOADS)
                ]
                submit = curl(stack.url + "/api/runs", "-H", auth, "-H", "Content-Type: application/json",
                              "--data-binary", f"@{graph}")  # fmt: skip
                these: list[float] = []
                while any(p.poll() is None for p in [*uploads, submit]):
                    t0 = time.perf_counter()
                    response = client.get("/api/health")
                    these.append((time.perf_counter() - t0) * 1000)
                    if response.status_code >= 500:
                        raise SystemExit(
                            f"health answered {response.status_code} under load: {response.text[:300]}"
                        )
                    time.sleep(0.01)
                latencies += these
                passes.append(
                    {
                        "uploads": [curl_result(p) for p in uploads],
                        "submit_20000_nodes": curl_result(submit),
                        "health_requests": len(these),
                        "health_p99_ms": round(pct(these, 99), 1),
                        "wall_s": round(time.perf_counter() - started, 2),
                    }
                )
                time.sleep(1)
    return {
        "bench": "health_under_load",
        "server": stack.server,
        "passes": passes,
        "health_requests": len(latencies),
        "health_p50_ms": round(statistics.median(latencies), 1),
        "health_p99_ms": round(pct(latencies, 99), 1),
        "health_max_ms": round(max(latencies), 1),
        "web_rss_idle_mb": round(idle / 2**20, 1),
        "web_rss_peak_above_idle_mb": round((rss.peak - idle) / 2**20, 1),
        "goal_health_p99_ms": TARGET_HEALTH_P99_MS,
    }


def refused(stack: WebStack, bench: str, files: Path, *args: str, megabytes: int) -> dict[str, Any]:
    body = raw_file(files / f"{bench}.bin", megabytes)
    idle = RssPeak(stack.web_pid).rss()
    with RssPeak(stack.web_pid) as rss:
        result = curl_result(curl(stack.url + "/api/uploads", *args, "--data-binary", f"@{body}"))
        time.sleep(0.5)  # memory freed late still counts
    body.unlink()
    return {
        "bench": bench,
        "server": stack.server,
        "body_mb": megabytes,
        **result,
        "web_rss_peak_above_idle_mb": round((rss.peak - idle) / 2**20, 1),
        "web_rss_after_above_idle_mb": round((RssPeak(stack.web_pid).rss() - idle) / 2**20, 1),
        "goal_ms": TARGET_413_MS,
        "goal_rss_mb": TARGET_RSS_MB,
    }


SCALING_SIZES = (1_000, 5_000, 20_000)
SCALING_REPEATS = int(os.environ.get("FLOWYARD_SCALING_REPEATS", "5"))
# Linear means a flat cost per node: the 20,000-node chain may cost at most this many times per node what the
# 1,000-node one does (noise and the GC's growing heap get some room; a quadratic step would be ~20x).
SCALING_BOUND = 2.0
TERMINAL = ("succeeded", "failed", "cancelled")


def submit_scaling(stack: WebStack, token: str, workspace: int) -> list[dict[str, Any]]:
    """``POST /api/runs`` of chains of each of ``SCALING_SIZES`` nodes, one at a time, each run waited for (and
    not timed) before the next submit; one row per size, then the per-node cost ratio."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    rows: list[dict[str, Any]] = []
    value = int(time.time())
    with httpx.Client(base_url=stack.url, timeout=300, headers=headers) as client:
        for size in SCALING_SIZES:
            timings: list[float] = []
            body_bytes = 0
            for attempt in range(SCALING_REPEATS + 1):  # the first of each size is untimed (warm-up)
                value += 1
                body = json.dumps({"workspace": workspace, "graph": big_graph(size, value)}).encode()
                body_bytes = len(body)
                started = time.perf_counter()
                response = client.post("/api/runs", content=body)
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code != 201:
                    raise SystemExit(
                        f"submit of {size} nodes answered {response.status_code}: {response.text[:300]}"
                    )
                if attempt:
                    timings.append(elapsed)
                run_id = response.json()["id"]
                deadline = time.monotonic() + 300
                while client.get(f"/api/runs/{run_id}").json()["status"] not in TERMINAL:
                    if time.monotonic() > deadline:
                        raise SystemExit(f"the {size}-node run did not finish")
                    time.sleep(0.05)
            p50 = statistics.median(timings)
            rows.append(
                emit(
                    {
                        "bench": "submit_scaling",
                        "server": stack.server,
                        "nodes": size,
                        "body_kb": round(body_bytes / 1024),
                        "submits": len(timings),
                        "p50_ms": round(p50, 1),
                        "min_ms": round(min(timings), 1),
                        "max_ms": round(max(timings), 1),
                        "ms_per_node": round(p50 / size, 4),
                        "min_ms_per_node": round(min(timings) / size, 4),
                        **machine(),
                    }
                )
            )
    small, big = rows[0], rows[-1]
    ratio = big["ms_per_node"] / small["ms_per_node"]
    rows.append(
        emit(
            {
                "bench": "submit_scaling_ratio",
                "server": stack.server,
                "per_node_ratio": round(ratio, 2),
                "of": f"{big['nodes']} vs {small['nodes']} nodes (p50)",
                "min_per_node_ratio": round(big["min_ms_per_node"] / small["min_ms_per_node"], 2),
                "bound": SCALING_BOUND,
                "met": ratio <= SCALING_BOUND,
                **machine(),
            }
        )
    )
    return rows


def bench_server(server: str, only_health: bool = False, only_scaling: bool = False) -> list[dict[str, Any]]:
    rows = []
    # Uploads up to 80 MB so that the five 60 MB uploads are accepted (and stored) like a user's would be.
    stack = WebStack(server, max_upload_bytes=80 * 2**20)
    ok = False
    try:
        stack.start_web()
        token, workspace = sign_up(stack.url)
        if only_scaling:
            rows += submit_scaling(stack, token, workspace)
            ok = True
            return rows
        with tempfile.TemporaryDirectory(prefix="flowyard-edge-") as tmp:
            files = Path(tmp)
            rows.append(health_under_load(stack, token, workspace, files))
            if only_health:
                ok = True
                return rows
            emit(rows[-1])
            auth = ["-H", f"Authorization: Bearer {token}", "-H", "Content-Type: application/octet-stream"]
            rows.append(emit(refused(stack, "declared_413", files, *auth, megabytes=BIG_MB)))
            chunked = [*auth, "-H", "Transfer-Encoding: chunked"]
            rows.append(emit(refused(stack, "chunked_413", files, *chunked, megabytes=BIG_MB)))
            anonymous = ["-H", "Content-Type: application/octet-stream"]
            rows.append(emit(refused(stack, "anonymous_413", files, *anonymous, megabytes=ANONYMOUS_MB)))
            if server == "uvicorn":
                rows += submit_scaling(stack, token, workspace)
        ok = True
    finally:
        stack.close(keep=not ok)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", choices=[*SERVERS, "all"], default="all")
    parser.add_argument(
        "--only", choices=["submit_scaling"], help="one workload (on uvicorn unless --server)"
    )
    args = parser.parse_args()
    emit({"bench": "machine", **machine()})
    if args.only == "submit_scaling":
        rows = bench_server("uvicorn" if args.server == "all" else args.server, only_scaling=True)
        emit({"bench": "machine_after", **machine()})
        return 0 if all(row["met"] for row in rows if row["bench"] == "submit_scaling_ratio") else 1
    servers = SERVERS if args.server == "all" else [args.server]
    rows = [row for server in servers for row in bench_server(server)]
    emit({"bench": "machine_after", **machine()})
    # The goals are the served configuration's (uvicorn, docs/deploy.md); daphne's figures are the comparison.
    missed = [
        f"{row['server']} {row['bench']}"
        for row in rows
        if row["server"].startswith("uvicorn")
        and (
            row.get("health_p99_ms", 0) > TARGET_HEALTH_P99_MS
            or (row["bench"] == "declared_413" and row["ms"] > TARGET_413_MS)
            or row.get("web_rss_peak_above_idle_mb", 0) > TARGET_RSS_MB
        )
    ]
    if missed:
        print("goals missed: " + ", ".join(missed), file=sys.stderr)
    # Submit cost linear in graph size (issue 13): asserted, unlike the latency goals above.
    nonlinear = [row for row in rows if row["bench"] == "submit_scaling_ratio" and not row["met"]]
    if nonlinear:
        print(f"submit cost not linear: {nonlinear}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
