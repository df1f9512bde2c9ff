"""ComfyUI-compatible API benchmarks: prompts submitted through ``POST /comfy/prompt`` on the embedded default
(SQLite under a temporary directory, the local dispatcher, the in-memory channel layer), timed from the POST to
the run's finished row: the API, validation, queueing, execution, event recording and outputs together.

Run ``python -m benchmarks.comfy``. Prints one JSON object per line (``name``, ``n`` nodes, ``seconds``: the
median of the repeats, ``best_seconds``, ``submit_seconds``: the median time the POST itself took):

- ``comfy.chain500.cold``: PrimitiveInt -> 498 x IntMath(add) -> PreviewAny, every node executed (each repeat
  starts from a new constant, so nothing is cached);
- ``comfy.chain500.cached``: the same prompt again, fully cached (only the output node's result is re-sent);
- ``comfy.image``: EmptyImage 512x512 -> ImageScaleBy -> ImageBlur -> ImageSharpen -> ImageInvert -> SaveImage.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from typing import Any

REPEATS = 5


def chain_prompt(length: int, start: int) -> dict[str, Any]:
    prompt: dict[str, Any] = {"1": {"class_type": "PrimitiveInt", "inputs": {"value": start}}}
    for index in range(2, length):
        prompt[str(index)] = {
            "class_type": "IntMath",
            "inputs": {"a": [str(index - 1), 0], "b": 1, "operation": "add"},
        }
    prompt[str(length)] = {"class_type": "PreviewAny", "inputs": {"source": [str(length - 1), 0]}}
    return prompt


def image_prompt(seed: int) -> dict[str, Any]:
    return {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 512, "height": 512, "color": seed}},
        "2": {"class_type": "ImageScaleBy", "inputs": {"image": ["1", 0], "upscale_method": "bilinear",
                                                       "scale_by": 1.5}},
        "3": {"class_type": "ImageBlur", "inputs": {"image": ["2", 0], "blur_radius": 3, "sigma": 1.0}},
        "4": {"class_type": "ImageSharpen", "inputs": {"image": ["3", 0], "sharpen_radius": 1, "sigma": 1.0,
                                                       "alpha": 1.0}},
        "5": {"class_type": "ImageInvert", "inputs": {"image": ["4", 0]}},
        "6": {"class_type": "SaveImage", "inputs": {"images": ["5", 0], "filename_prefix": "bench"}},
    }  # fmt: skip


def main() -> int:
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    os.environ["FLOWYARD_VAR_DIR"] = tempfile.mkdtemp(prefix="flowyard-comfy-bench-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from backend.accounts.actions import do_create_token, do_create_user
    from backend.compat.models import ComfyPrompt

    call_command("migrate", verbosity=0)
    user = do_create_user("bench", "correct horse battery staple", "bench@example.com")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {do_create_token(user, 'bench')[1]}")

    def submit_and_wait(prompt: dict[str, Any]) -> tuple[float, float]:
        began = time.perf_counter()
        answer = client.post("/comfy/prompt", {"prompt": prompt}, content_type="application/json")
        submitted = time.perf_counter() - began
        if answer.status_code != 200:
            raise SystemExit(f"prompt refused: {answer.content[:500]!r}")
        prompt_id = answer.json()["prompt_id"]
        while True:
            run = ComfyPrompt.objects.select_related("run").get(prompt_id=prompt_id).run
            if run.is_finished():
                break
            time.sleep(0.002)
        if run.status != "succeeded":
            raise SystemExit(f"run {run.pk} {run.status}: {run.error}")
        return time.perf_counter() - began, submitted

    def report(name: str, n: int, samples: list[tuple[float, float]]) -> None:
        totals = [total for total, _ in samples]
        print(
            json.dumps(
                {
                    "name": name,
                    "n": n,
                    "seconds": round(statistics.median(totals), 4),
                    "best_seconds": round(min(totals), 4),
                    "submit_seconds": round(statistics.median(submitted for _, submitted in samples), 4),
                    "repeats": len(samples),
                }
            ),
            flush=True,
        )

    submit_and_wait(chain_prompt(20, -1))  # warm up imports, the registry and the worker pool
    cold, cached = [], []
    for repeat in range(REPEATS):
        prompt = chain_prompt(500, repeat * 1000)
        cold.append(submit_and_wait(prompt))
        cached.append(submit_and_wait(prompt))
    report("comfy.chain500.cold", 500, cold)
    report("comfy.chain500.cached", 500, cached)
    report("comfy.image", 6, [submit_and_wait(image_prompt(repeat)) for repeat in range(REPEATS)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
