"""The web process's CPU per small HTTP request on the embedded stack (issue 14: the per-request cost of Django,
DRF and uvicorn that every prompt, status poll and page pays).

``python -m benchmarks.request_cpu [--requests 800] [--rounds 2]``: signs up one user, runs one warm-up run, then
for each path sends ``--requests`` GETs from 8 concurrent clients and prints a JSON line per round with the web
process's CPU per request (``/proc``'s utime + stime of the server and its children) and the requests per second.
Paths: ``/comfy/system_stats`` (a view that reads nothing), ``/api/health`` (database and channel layer checks) and
``/comfy/queue`` (the user's queue: access-checked queries).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from benchmarks import api

PATHS = ["/comfy/system_stats", "/api/health", "/comfy/queue"]
CLIENTS = 8


async def measure(requests: int, rounds: int) -> list[dict[str, Any]]:
    rows = []
    with api.stack("embedded") as stack:
        api.SERVER_PIDS[:] = [process.pid for process in stack.processes.values()]
        client = await api.Client.sign_up(stack.url)
        await client.run_and_watch(api.chain(5, api.fresh()))  # warm up: imports, catalog, connections
        for path in PATHS:
            for number in range(rounds):

                async def one_client(path: str = path) -> None:
                    for _ in range(requests // CLIENTS):
                        answer = await client.http.get(path)
                        if answer.status_code != 200:
                            raise SystemExit(f"GET {path}: {answer.status_code}")

                cpu, began = api.server_cpu(), time.perf_counter()
                await asyncio.gather(*(one_client() for _ in range(CLIENTS)))
                elapsed = time.perf_counter() - began
                sent = requests // CLIENTS * CLIENTS
                rows.append(
                    api.emit(
                        {
                            "name": "request_cpu",
                            "path": path,
                            "round": number,
                            "requests": sent,
                            "server_cpu_ms_per_request": round((api.server_cpu() - cpu) * 1000 / sent, 3),
                            "requests_per_s": round(sent / elapsed, 1),
                            **api.machine(),
                        }
                    )
                )
        await client.close()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=800)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(measure(args.requests, args.rounds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
