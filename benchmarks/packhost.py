"""Pack host benchmarks: per-call overhead, cost per MB of image, environment creation cold and warm.

Run ``python -m benchmarks.packhost``. Prints one JSON object per line:

- ``packhost.call_overhead``: µs per call of a trivial node (two ints in, one out) in a warm host, median;
- ``packhost.image_mb``: ms per MB of a float32 image sent to a node and returned (Invert), median;
- ``packhost.env_create``: seconds to build a pack environment with one pinned dependency (``cold``) and to
  find it again (``warm``); ``host_start``: seconds to start a host and import the pack.

Also reports the sandbox in use (``bwrap`` or ``none``). Exits non-zero when the warm path regresses badly
(call overhead over 5 ms, or warm environment lookup over 0.5 s).
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from nodepacks.sdk import Context
from workers.packs.build import build_pack
from workers.runtime.packhost import PackEnvironments, PackHostPool, sandbox_mode
from workers.runtime.packhost.tests.conftest import make_pack_source, sha256_of

MAX_CALL_US = 5000.0
MAX_WARM_ENV_SECONDS = 0.5


def emit(name: str, **data: object) -> None:
    print(json.dumps({"name": name, **data}), flush=True)


def main() -> int:
    failures = []
    with tempfile.TemporaryDirectory(prefix="bench-packhost-") as tmp:
        root = Path(tmp)
        archive = build_pack(make_pack_source(root, "benchpack", "1.16.0"), root / "dist")
        sha = sha256_of(archive)
        environments = PackEnvironments(root / "envs")
        environments.layer  # noqa: B018  (built once per machine; not part of a pack's cost)
        began = time.perf_counter()
        env = environments.ensure(archive, sha)
        cold = time.perf_counter() - began
        began = time.perf_counter()
        environments.ensure(archive, sha)
        warm = time.perf_counter() - began
        with PackHostPool(scratch_root=root / "scratch") as pool:
            began = time.perf_counter()
            pool.host(env).describe()
            start = time.perf_counter() - began
            emit("packhost.env_create", cold=round(cold, 3), warm=round(warm, 5), host_start=round(start, 3))
            if warm > MAX_WARM_ENV_SECONDS:
                failures.append(f"warm environment lookup took {warm:.3f} s")
            ctx = Context("bench")
            timings = []
            for _ in range(5):
                n = 500
                began = time.perf_counter()
                for i in range(n):
                    pool.execute(env, "benchpack.Add", {"a": i, "b": 1}, ctx)
                timings.append((time.perf_counter() - began) / n * 1e6)
            overhead = statistics.median(timings)
            emit(
                "packhost.call_overhead",
                per_call_us=round(overhead, 1),
                best_us=round(min(timings), 1),
                sandbox=sandbox_mode(),
            )
            if overhead > MAX_CALL_US:
                failures.append(f"call overhead {overhead:.0f} µs")
            for size in (1024, 2048):
                image = np.random.default_rng(0).random((1, size, size, 3), dtype=np.float32)
                mb = image.nbytes / 1e6
                runs = []
                for _ in range(5):
                    began = time.perf_counter()
                    outputs, _ = pool.execute(env, "benchpack.Invert", {"image": image}, ctx)
                    assert outputs is not None and outputs[0].shape == image.shape
                    runs.append((time.perf_counter() - began) * 1000)
                    del outputs
                # the node's own work (1 - image) measured in this process, to separate transport from compute
                began = time.perf_counter()
                _ = 1.0 - image
                compute = (time.perf_counter() - began) * 1000
                per_mb = statistics.median(runs) / mb
                emit(
                    "packhost.image_mb",
                    mb=round(mb, 1),
                    ms_per_mb=round(per_mb, 3),
                    round_trip_ms=round(statistics.median(runs), 2),
                    node_compute_ms=round(compute, 2),
                    transport_ms_per_mb=round(max(statistics.median(runs) - compute, 0) / mb, 3),
                )
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
