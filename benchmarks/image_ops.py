"""Image operation benchmarks: the core pack's OpenCV / threaded-Pillow paths against the code they replaced.

Run ``python -m benchmarks.image_ops``. Prints one JSON object per line (``name``, ``impl``: ``before`` or
``after``, ``seconds``: the median of the repeats, ``best_seconds``, ``load_avg``: /proc/loadavg's 1, 5 and
15 minute figures when the row was measured), then exits non-zero if the target is missed:

- ``image_ops.pipeline``: EmptyImage 1024x1024 -> ImageScaleBy 2 (nearest-exact, ComfyUI's default) ->
  ImageBlur (radius 5, sigma 1) -> ImageInvert -> SaveImage through the engine, cold (nothing cached), with each
  node's median time; ``before`` runs the same graph with the reference implementation
  (``nodepacks/core/tests/reference_imaging.py``, the earlier code) patched in. ``max_abs_diff`` compares the
  two outputs. Before and after passes are interleaved so a change in the machine's load hits both.
- ``image_ops.png``: encoding the 2048x2048 result as the runtime stores it (PNG, compress level 4), which the
  engine's SaveImage leaves to the runtime: not part of the pipeline figure, printed for the end-to-end picture.
- ``image_ops.op``: each operation alone on a 2048x2048 RGB image (``op``: blur, sharpen, composite with a mask,
  invert) or on a 1024x1024 one scaled to 2048 (``op``: scale/<method>), random pixels, with ``max_abs_diff``
  between the two implementations' results (the pipeline's flat colour gives 0 there by construction).

Target: the pipeline's best repeat in at most 0.3 s (issue 14; ComfyUI took 0.58 s on a quiet machine). Other
processes sharing the cores only slow a repeat down, so a miss is measured again (up to ``ATTEMPTS`` times)
before it counts.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import cv2
import numpy as np

from nodepacks.core import _imaging, image_ops
from nodepacks.core.tests import reference_imaging as reference
from nodepacks.sdk.testing import run_node
from workers.engine import Engine, Event, MemoryCache, NodeRegistry, parse_graph
from workers.runtime.media import frame_to_png

MAX_PIPELINE_SECONDS = 0.300
REPEATS = 5
OP_REPEATS = 3
ATTEMPTS = 3

PIPELINE = {
    "nodes": {
        "empty": {"type": "EmptyImage", "inputs": {"width": 1024, "height": 1024, "color": 0x336699}},
        "scale": {
            "type": "ImageScaleBy",
            "inputs": {"image": ["empty", 0], "upscale_method": "nearest-exact", "scale_by": 2.0},
        },
        "blur": {"type": "ImageBlur", "inputs": {"image": ["scale", 0], "blur_radius": 5, "sigma": 1.0}},
        "invert": {"type": "ImageInvert", "inputs": {"image": ["blur", 0]}},
        "save": {"type": "SaveImage", "inputs": {"images": ["invert", 0]}},
    }
}


def load_avg() -> list[float]:
    """The 1, 5 and 15 minute load averages, as /proc/loadavg has them."""
    with open("/proc/loadavg") as handle:
        return [float(field) for field in handle.read().split()[:3]]


def machine() -> dict[str, Any]:
    return {
        "name": "image_ops.machine",
        "cpus": os.cpu_count(),
        "opencv": cv2.__version__,
        "opencv_threads": cv2.getNumThreads(),
        "load_avg": load_avg(),
    }


@contextlib.contextmanager
def reference_ops() -> Iterator[None]:
    """Patch the earlier implementation into the image nodes: the "before" of every row."""

    def blur(images: np.ndarray, radius: int, sigma: float, on_frame: Any = None) -> np.ndarray:
        return reference.gaussian_blur(images, radius, sigma)

    def invert(self: Any, inputs: Any, ctx: Any) -> Any:
        return self.Outputs(image=reference.invert(inputs.image))

    def sharpen(self: Any, inputs: Any, ctx: Any) -> Any:
        sharpened = reference.sharpen(inputs.image, inputs.sharpen_radius, inputs.sigma, inputs.alpha)
        return self.Outputs(image=sharpened)

    with (
        mock.patch.object(image_ops, "resize", reference.resize),
        mock.patch.object(image_ops, "gaussian_blur", blur),
        mock.patch.object(image_ops, "composite", reference.composite),
        mock.patch.object(image_ops.ImageInvert, "execute", invert),
        mock.patch.object(image_ops.ImageSharpen, "execute", sharpen),
    ):
        yield


def timed(run: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    began = time.perf_counter()
    result = run()
    return time.perf_counter() - began, result


def bench_pipeline() -> tuple[list[dict[str, Any]], float]:
    """Interleaved before/after passes of the pipeline; returns the rows and the after pass's best seconds."""
    engine = Engine(NodeRegistry.from_modules())
    graph = parse_graph(PIPELINE)
    walls: dict[str, list[float]] = {"before": [], "after": []}
    nodes: dict[str, dict[str, list[float]]] = {"before": {}, "after": {}}
    outputs: dict[str, np.ndarray] = {}
    loads: dict[str, list[float]] = {}
    for _ in range(REPEATS):
        for impl in ("before", "after"):
            durations = nodes[impl]

            def on_event(event: Event, durations: dict[str, list[float]] = durations) -> None:
                if event.type == "node_finished" and event.node is not None:
                    durations.setdefault(event.node, []).append(event.data["duration"])

            def cold(on_event: Callable[[Event], None] = on_event) -> Any:
                engine.cache = MemoryCache()
                return engine.run(graph, on_event=on_event)

            loads[impl] = load_avg()
            with reference_ops() if impl == "before" else contextlib.nullcontext():
                wall, result = timed(cold)
            if result.status != "succeeded":
                raise SystemExit(f"pipeline ({impl}) failed: {result.status} {result.errors[:3]}")
            walls[impl].append(wall)
            outputs[impl] = result.outputs["save"][0]
    diff = float(np.abs(outputs["before"] - outputs["after"]).max())
    rows = [
        {
            "name": "image_ops.pipeline",
            "impl": impl,
            "size": "1024->2048",
            "seconds": round(statistics.median(walls[impl]), 4),
            "best_seconds": round(min(walls[impl]), 4),
            "node_seconds": {node: round(statistics.median(spent), 4) for node, spent in nodes[impl].items()},
            "max_abs_diff": diff,
            "load_avg": loads[impl],
        }
        for impl in ("before", "after")
    ]
    return rows, min(walls["after"])


def bench_png(image: np.ndarray) -> dict[str, Any]:
    times = [timed(lambda: frame_to_png(image[0]))[0] for _ in range(OP_REPEATS)]
    return {
        "name": "image_ops.png",
        "size": f"{image.shape[2]}x{image.shape[1]}",
        "seconds": round(statistics.median(times), 4),
        "best_seconds": round(min(times), 4),
        "load_avg": load_avg(),
    }


def operations() -> dict[str, Callable[[], Any]]:
    """Each operation as its node computes it, on fresh inputs (made once)."""
    rng = np.random.default_rng(0)
    small = rng.random((1, 1024, 1024, 3), dtype=np.float32)
    large = rng.random((1, 2048, 2048, 3), dtype=np.float32)
    source = rng.random((1, 1024, 1024, 3), dtype=np.float32)
    mask = rng.random((1, 512, 512), dtype=np.float32)

    def scale(method: str) -> Callable[[], Any]:
        # image_ops.resize is looked up at each call: reference_ops() patches the reference in there.
        return lambda: image_ops.resize(small, 2048, 2048, method)

    ops = {f"scale/{method}": scale(method) for method in _imaging.UPSCALE_METHODS}
    ops["blur"] = lambda: image_ops.gaussian_blur(large, 5, 1.0)
    ops["sharpen"] = lambda: run_node(
        image_ops.ImageSharpen, image=large, sharpen_radius=2, sigma=1.0, alpha=1.0
    )["image"]
    ops["composite_masked"] = lambda: image_ops.composite(large, source, 512, 512, mask)
    ops["invert"] = lambda: run_node(image_ops.ImageInvert, image=large)["image"]
    return ops


def bench_ops() -> list[dict[str, Any]]:
    rows = []
    for op, run in operations().items():
        times: dict[str, list[float]] = {"before": [], "after": []}
        results: dict[str, np.ndarray] = {}
        for _ in range(OP_REPEATS):
            for impl in ("before", "after"):
                with reference_ops() if impl == "before" else contextlib.nullcontext():
                    wall, results[impl] = timed(run)
                times[impl].append(wall)
        before, after = min(times["before"]), min(times["after"])
        rows.append(
            {
                "name": "image_ops.op",
                "op": op,
                "before_seconds": round(before, 4),
                "after_seconds": round(after, 4),
                "speedup": round(before / after, 1),
                "max_abs_diff": float(np.abs(results["before"] - results["after"]).max()),
                "load_avg": load_avg(),
            }
        )
    return rows


def main() -> int:
    print(json.dumps(machine()), flush=True)
    for attempt in range(1, ATTEMPTS + 1):
        rows, best = bench_pipeline()
        if best <= MAX_PIPELINE_SECONDS or attempt == ATTEMPTS:
            break
        print(
            f"attempt {attempt}: pipeline best {best:.3f} s > {MAX_PIPELINE_SECONDS}; measuring again",
            file=sys.stderr,
        )
    for row in rows:
        print(json.dumps(row), flush=True)
    image = np.full((1, 2048, 2048, 3), 0.5, dtype=np.float32)
    print(json.dumps(bench_png(image)), flush=True)
    for row in bench_ops():
        print(json.dumps(row), flush=True)
    if best > MAX_PIPELINE_SECONDS:
        print(f"target missed: pipeline best {best:.3f} s > {MAX_PIPELINE_SECONDS} s", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
