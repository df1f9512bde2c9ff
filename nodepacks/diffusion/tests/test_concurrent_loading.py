"""Networks built at the same time in two threads (the engine runs independent branches in parallel).

diffusers builds models inside accelerate's ``init_empty_weights``, which patches ``torch.nn.Module`` for the whole
process; a spandrel upscaler built meanwhile in another thread came out with meta tensors ("Cannot copy out of meta
tensor", seen running ComfyUI's esrgan template). Every construction in the pack holds ``runtime.BUILD_LOCK``.
"""

from __future__ import annotations

import threading
import time

from accelerate import init_empty_weights

from nodepacks.diffusion import nodes_loaders as loaders
from nodepacks.diffusion import runtime
from nodepacks.diffusion.families import get_family
from nodepacks.diffusion.upscale import load_descriptor
from nodepacks.sdk.testing import run_node


def test_an_upscaler_is_not_built_while_a_network_is_built_on_the_meta_device(library_root):
    inside = threading.Event()

    def diffusers_like_construction() -> None:
        with runtime.BUILD_LOCK, init_empty_weights():
            inside.set()
            time.sleep(0.5)

    builder = threading.Thread(target=diffusers_like_construction)
    builder.start()
    assert inside.wait(10)
    descriptor = load_descriptor(
        str(library_root / "upscale_models" / "tiny-2x.safetensors"), "upscale_model"
    )
    builder.join(10)
    assert all(not p.is_meta for p in descriptor.model.parameters())


def test_the_pack_builds_its_networks_under_the_lock(models, monkeypatch):
    held: list[bool] = []
    real = get_family("sd1").load_diffusion_model

    def watching(*args, **kwargs):
        held.append(runtime.BUILD_LOCK._is_owned())  # type: ignore[attr-defined]
        return real(*args, **kwargs)

    monkeypatch.setattr(
        type(get_family("sd1")), "load_diffusion_model", lambda self, *a, **k: watching(*a, **k)
    )
    model = run_node(loaders.CheckpointLoaderSimple, models=models, ckpt_name="tiny-sd1.safetensors")["MODEL"]
    runtime.load_diffusion_network(model, models)
    assert held == [True]
