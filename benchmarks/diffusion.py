"""Diffusion benchmarks: what Flowyard's sampler node costs over a bare loop, model loading, warm runs, previews.

Run ``python -m benchmarks.diffusion`` (``--size 512`` for the image side, ``--steps 20``). Prints one JSON object
per line and exits non-zero when a target is missed. Models are random-weight SD1-architecture checkpoints written
by ``nodepacks.diffusion.testing`` in the original single-file layout, loaded through the real loading code:

- ``step_overhead``: the ``KSampler`` node (through ``run_node``: noise, sigma schedule, CFG batching, progress
  with throttled previews, cancellation checks, the LATENT in and out) against a bare loop that calls the same
  warm network the same number of times (cond and uncond in one batch, an Euler step) -- same model, same
  latent size, same steps, same result (checked); interleaved repeats, one torch thread (``--overhead-threads``).
  Target: within 3 % (``MAX_STEP_OVERHEAD``) on the process CPU time of the best repeat of each (this machine's
  cores are shared; wall times printed too); 256x256 by default (``--overhead-size``), where the network's share
  is smaller than at 512, so the node's own cost weighs more.
- ``model_load``: CheckpointLoaderSimple + the first denoiser call on a fresh model manager (cold: reads,
  converts and builds the networks) against the same on a warm manager.
- ``warm_txt2img``: a whole txt2img graph (loader, two CLIPTextEncode, EmptyLatentImage, KSampler, VAEDecode)
  through the engine on a warm model manager, a new seed each run, so only the model load is saved.
- ``previews``: the websocket bytes of a run's previews (JPEG frames as ``/comfy/ws`` sends them, at most one per
  250 ms per node), per step-preview and per run.

``--model tiny`` (default) uses the test-sized network (block channels 32/64, the latent of a ``--size`` image);
``--model sd15`` uses SD1.5's full architecture (860 M parameters, ~3.4 GB in fp32: for a GPU machine).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from nodepacks import sdk
from nodepacks.diffusion import nodes_latent, nodes_loaders, nodes_sampling
from nodepacks.diffusion.runtime import load_diffusion_network, pick_device, prepare_denoiser
from nodepacks.diffusion.sampling import ksampler_sigmas, prepare_noise
from nodepacks.sdk.testing import run_node
from workers.engine import Engine, MemoryCache, NodeRegistry, parse_graph
from workers.engine.registry import load_pack
from workers.runtime.model_library import ModelLibrary
from workers.runtime.models import ModelManager

MAX_STEP_OVERHEAD = 0.03
CHECKPOINT = "bench-sd1.safetensors"


def emit(name: str, **fields: Any) -> dict[str, Any]:
    row = {"name": name, **fields}
    print(json.dumps(row), flush=True)
    return row


def machine() -> dict[str, Any]:
    import torch

    device, dtype = pick_device()
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": device,
        "dtype": str(dtype).replace("torch.", ""),
        "cpus": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "load_avg": [round(x, 2) for x in os.getloadavg()],
    }
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def write_checkpoint(root: Path, kind: str) -> None:
    target = root / "checkpoints" / CHECKPOINT
    target.parent.mkdir(parents=True, exist_ok=True)
    if kind == "tiny":
        from nodepacks.diffusion.testing import make_tiny_checkpoint

        make_tiny_checkpoint("sd1", target, seed=0)
    else:
        make_full_sd15_checkpoint(target, seed=0)


def make_full_sd15_checkpoint(path: Path, seed: int = 0) -> Path:
    """SD1.5's full architecture (the pack's shipped configs: UNet 860 M parameters, CLIP-L, the KL VAE) with random
    weights, written as one original-layout single file (about 4 GB in fp32): for timing on a GPU machine."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from safetensors.torch import save_file
    from transformers import CLIPTextConfig, CLIPTextModel

    from nodepacks.diffusion.testing import original_state_dict

    configs = Path(__file__).resolve().parents[1] / "nodepacks" / "diffusion" / "configs" / "sd1"
    torch.manual_seed(seed)
    parts = {
        "denoiser": UNet2DConditionModel.from_config(json.loads((configs / "unet.json").read_text())),
        "vae": AutoencoderKL.from_config(json.loads((configs / "vae.json").read_text())),
        "clip_l": CLIPTextModel(CLIPTextConfig.from_json_file(str(configs / "clip_l.json"))),
    }
    state = {key: value.contiguous() for key, value in original_state_dict("sd1", parts).items()}
    save_file(state, str(path))
    return path


def manager(root: Path) -> ModelManager:
    return ModelManager(root / "modelscope", library=ModelLibrary([root]))


def load(models: ModelManager) -> tuple[Any, Any, Any]:
    out = run_node(nodes_loaders.CheckpointLoaderSimple, models=models, ckpt_name=CHECKPOINT)
    return out["MODEL"], out["CLIP"], out["VAE"]


def encode(models: ModelManager, clip: Any, text: str) -> Any:
    return run_node(nodes_latent.CLIPTextEncode, models=models, clip=clip, text=text)["CONDITIONING"]


def bare_loop(models: ModelManager, model: Any, positive: Any, negative: Any, latent: dict, steps: int, cfg: float,
              seed: int) -> np.ndarray:  # fmt: skip
    """Euler with CFG on the warm network, nothing else: the floor the sampler node is measured against."""
    import torch

    denoiser = prepare_denoiser(model, models)
    network = load_diffusion_network(model, models)
    sampling, fmt = denoiser.sampling, denoiser.latent_format
    sigmas = [float(s) for s in ksampler_sigmas(sampling, "normal", "euler", steps, 1.0)]
    samples = torch.from_numpy(latent["samples"])
    noise = prepare_noise(tuple(samples.shape), seed)
    context = torch.cat(
        [torch.from_numpy(positive[0]["cross_attn"]), torch.from_numpy(negative[0]["cross_attn"])]
    ).to(denoiser.device, denoiser.dtype)
    first = torch.tensor(sigmas[0])
    x = sampling.noise_scaling(first, noise, fmt.process_in(samples), max_denoise=True).to(denoiser.device)
    with torch.inference_mode():
        for index in range(len(sigmas) - 1):
            sigma = torch.full((2,), sigmas[index], device=denoiser.device)
            x_in = sampling.model_input(sigma.reshape(-1, 1, 1, 1), torch.cat([x, x])).to(denoiser.dtype)
            out = network(x_in, sampling.timestep(sigma), encoder_hidden_states=context).sample.float()
            denoised = sampling.denoised(sigma.reshape(-1, 1, 1, 1), out, torch.cat([x, x]))
            cond, uncond = denoised.chunk(2)
            guided = uncond + (cond - uncond) * cfg
            x = x + (x - guided) / sigmas[index] * (sigmas[index + 1] - sigmas[index])
    return fmt.process_out(x).cpu().numpy()


def node_sample(models: ModelManager, model: Any, positive: Any, negative: Any, latent: dict, steps: int,
                cfg: float, seed: int, on_progress: Any = None) -> np.ndarray:  # fmt: skip
    ctx = sdk.Context("sampler", models=models, on_progress=on_progress or (lambda *args: None))
    out = run_node(
        nodes_sampling.KSampler, models=models, ctx=ctx, model=model, seed=seed, steps=steps, cfg=cfg,
        sampler_name="euler", scheduler="normal", positive=positive, negative=negative, latent_image=latent,
        denoise=1.0,
    )  # fmt: skip
    return np.asarray(out["latent"]["samples"])


def step_overhead(models: ModelManager, size: int, steps: int, repeats: int, threads: int) -> dict[str, Any]:
    """The sampler node against the bare loop. With ``threads`` = 1 (the default) CPU time is the work done: with
    several OpenMP threads it also counts their spin-waits, which vary by several percent between identical runs
    (profiles of one run each show the same network time for both paths)."""
    import torch

    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _step_overhead(models, size, steps, repeats, threads)
    finally:
        torch.set_num_threads(previous_threads)


def _step_overhead(models: ModelManager, size: int, steps: int, repeats: int, threads: int) -> dict[str, Any]:
    model, clip, _ = load(models)
    positive, negative = encode(models, clip, "a lighthouse at dusk"), encode(models, clip, "blurry")
    latent = run_node(nodes_latent.EmptyLatentImage, width=size, height=size, batch_size=1)["LATENT"]
    args = (models, model, positive, negative, latent, steps, 8.0)
    same = np.allclose(
        bare_loop(*args, seed=1), node_sample(*args, seed=1), atol=1e-3
    )  # also warms both paths
    wall: dict[str, list[float]] = {"bare": [], "node": []}
    cpu: dict[str, list[float]] = {"bare": [], "node": []}
    for repeat in range(repeats):
        for label, fn in (("bare", bare_loop), ("node", node_sample)):
            started, started_cpu = time.perf_counter(), time.process_time()
            fn(*args, seed=repeat)
            wall[label].append(time.perf_counter() - started)
            cpu[label].append(time.process_time() - started_cpu)
    # Best of the interleaved repeats, on CPU time: what each path itself costs, whatever else shares the cores.
    overhead = min(cpu["node"]) / min(cpu["bare"]) - 1.0
    return emit(
        "step_overhead",
        size=size,
        steps=steps,
        repeats=repeats,
        threads=threads,
        bare_step_ms=round(min(wall["bare"]) / steps * 1000, 3),
        node_step_ms=round(min(wall["node"]) / steps * 1000, 3),
        bare_step_cpu_ms=round(min(cpu["bare"]) / steps * 1000, 3),
        node_step_cpu_ms=round(min(cpu["node"]) / steps * 1000, 3),
        wall_overhead_median=round(
            statistics.median(wall["node"]) / statistics.median(wall["bare"]) - 1.0, 4
        ),
        overhead=round(overhead, 4),
        target=MAX_STEP_OVERHEAD,
        ok=overhead <= MAX_STEP_OVERHEAD,
        same_result=bool(same),
    )


def model_load(root: Path, size: int) -> dict[str, Any]:
    timings = {}
    shared = manager(root)
    for label, models in (("cold", shared), ("warm", shared)):
        started = time.perf_counter()
        model, clip, vae = load(models)
        prepare_denoiser(model, models)
        encode(models, clip, "warm up the text encoder")
        timings[label] = time.perf_counter() - started
    return emit(
        "model_load",
        cold_seconds=round(timings["cold"], 4),
        warm_seconds=round(timings["warm"], 5),
        checkpoint_bytes=(root / "checkpoints" / CHECKPOINT).stat().st_size,
        speedup=round(timings["cold"] / max(timings["warm"], 1e-9), 1),
    )


def txt2img_graph(size: int, steps: int, seed: int) -> dict[str, Any]:
    return {
        "nodes": {
            "ckpt": {"type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": CHECKPOINT}},
            "pos": {"type": "CLIPTextEncode", "inputs": {"clip": ["ckpt", 1], "text": "a lighthouse at dusk"}},
            "neg": {"type": "CLIPTextEncode", "inputs": {"clip": ["ckpt", 1], "text": "blurry"}},
            "empty": {"type": "EmptyLatentImage", "inputs": {"width": size, "height": size, "batch_size": 1}},
            "sample": {"type": "KSampler", "inputs": {
                "model": ["ckpt", 0], "seed": seed, "steps": steps, "cfg": 8.0, "sampler_name": "euler",
                "scheduler": "normal", "positive": ["pos", 0], "negative": ["neg", 0],
                "latent_image": ["empty", 0], "denoise": 1.0}},
            "decode": {"type": "VAEDecode", "inputs": {"samples": ["sample", 0], "vae": ["ckpt", 2]}},
            "show": {"type": "PreviewImage", "inputs": {"images": ["decode", 0]}},
        }
    }  # fmt: skip


def warm_txt2img(root: Path, size: int, steps: int, runs: int) -> dict[str, Any]:
    registry = NodeRegistry([load_pack("nodepacks.core"), load_pack("nodepacks.diffusion")])
    models = manager(root)
    engine = Engine(registry, cache=MemoryCache(), models=models)
    times = []
    for seed in range(runs + 1):
        started = time.perf_counter()
        result = engine.run(parse_graph(txt2img_graph(size, steps, seed)))
        if result.status != "succeeded":
            raise SystemExit(f"txt2img failed: {result.errors}")
        times.append(time.perf_counter() - started)
    return emit(
        "warm_txt2img",
        size=size,
        steps=steps,
        first_run_seconds=round(times[0], 4),
        warm_run_seconds_median=round(statistics.median(times[1:]), 4),
        warm_run_seconds_best=round(min(times[1:]), 4),
        runs=runs,
    )


def preview_bytes(models: ModelManager, size: int, steps: int) -> dict[str, Any]:
    """Bytes of the preview frames one watcher of a run receives (the backend's JPEG encoding, 250 ms apart)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
    django.setup()
    from backend.compat.consumers import preview_frame
    from backend.runs.execution import encode_preview

    def jpeg_frame(image: np.ndarray) -> bytes:
        return preview_frame(
            encode_preview(image), "image/jpeg", prompt_id="p", node="sampler", metadata=False
        )

    model, clip, _ = load(models)
    positive, negative = encode(models, clip, "a lighthouse"), encode(models, clip, "blurry")
    latent = run_node(nodes_latent.EmptyLatentImage, width=size, height=size, batch_size=1)["LATENT"]
    frames: list[int] = []
    last = [-1.0]

    def on_progress(node: str, value: float, total: float | None, preview: Any) -> None:
        now = time.monotonic()
        if preview is not None and now - last[0] >= 0.25:
            last[0] = now
            frames.append(len(jpeg_frame(preview)))

    started = time.perf_counter()
    node_sample(models, model, positive, negative, latent, steps, 8.0, seed=5, on_progress=on_progress)
    seconds = time.perf_counter() - started
    return emit(
        "previews",
        size=size,
        steps=steps,
        run_seconds=round(seconds, 3),
        frames=len(frames),
        bytes_per_frame=round(statistics.mean(frames)) if frames else 0,
        bytes_per_run=sum(frames),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--model", choices=("tiny", "sd15"), default="tiny")
    parser.add_argument(
        "--overhead-size", type=int, default=256, help="image side of the overhead comparison"
    )
    parser.add_argument("--overhead-threads", type=int, default=1, help="torch threads during it")
    args = parser.parse_args(argv)
    emit("machine", model=args.model, **machine())
    with tempfile.TemporaryDirectory(prefix="flowyard-bench-diffusion-") as tmp:
        root = Path(tmp)
        write_checkpoint(root, args.model)
        model_load(root, args.size)
        models = manager(root)
        overhead = step_overhead(models, args.overhead_size, args.steps, args.repeats, args.overhead_threads)
        warm_txt2img(root, args.size, args.steps, args.runs)
        preview_bytes(models, args.size, args.steps)
    return 0 if overhead["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
