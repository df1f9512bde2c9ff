"""ControlNets end to end with tiny real-format files: the loader in the three layouts, the apply nodes' effect on
KSampler, strength 0 and out-of-range percents giving the plain result exactly, chains adding up, the old node
steering the negative prompt, and a ControlNet of another family refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nodepacks.diffusion import controlnet, testing
from nodepacks.diffusion import nodes_controlnet as cn_nodes
from nodepacks.diffusion import nodes_latent as latent_nodes
from nodepacks.diffusion import nodes_loaders as loaders
from nodepacks.diffusion import nodes_sampling as sampling_nodes
from nodepacks.diffusion.handles import Cond, DiffusionError
from nodepacks.sdk.testing import run_node
from workers.runtime.model_library import ModelLibrary
from workers.runtime.models import ModelManager

CONTROLNETS = {
    "original": "tiny-sd1-control.safetensors",
    "diffusers_keys": "tiny-sd1-control-diffusers-keys.safetensors",
    "diffusers": "tiny-sd1-control-folder",
}


@pytest.fixture(scope="module")
def cn_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cn_models")
    testing.make_tiny_checkpoint("sd1", root / "checkpoints" / "tiny-sd1.safetensors")
    testing.make_tiny_checkpoint("sdxl", root / "checkpoints" / "tiny-sdxl.safetensors")
    for layout, name in CONTROLNETS.items():
        testing.make_tiny_controlnet("sd1", root / "controlnet" / name, layout=layout)
    testing.make_tiny_controlnet("sd1", root / "controlnet" / "tiny-sd1-control-b.safetensors", seed=5)
    testing.make_tiny_controlnet(
        "sdxl", root / "controlnet" / "tiny-sdxl-control.safetensors", layout="diffusers_keys"
    )
    (root / "controlnet" / "not-a-controlnet.safetensors").write_bytes(
        (root / "checkpoints" / "tiny-sd1.safetensors").read_bytes()
    )
    return root


@pytest.fixture
def models(cn_root: Path, tmp_path: Path) -> ModelManager:
    return ModelManager(tmp_path / "cache", library=ModelLibrary([cn_root]), vram_budget_bytes=0)


def _setup(models: Any, family: str = "sd1") -> tuple[Any, list[Cond], list[Cond], dict[str, Any]]:
    out = run_node(loaders.CheckpointLoaderSimple, models=models, ckpt_name=f"tiny-{family}.safetensors")
    positive = run_node(latent_nodes.CLIPTextEncode, models=models, clip=out["CLIP"], text="a house")
    negative = run_node(latent_nodes.CLIPTextEncode, models=models, clip=out["CLIP"], text="blurry")
    empty = run_node(latent_nodes.EmptyLatentImage, width=64, height=64, batch_size=1)["LATENT"]
    return out["MODEL"], positive["CONDITIONING"], negative["CONDITIONING"], empty


def _sample(
    models: Any, model: Any, positive: list[Cond], negative: list[Cond], latent: dict[str, Any], **values: Any
) -> np.ndarray:
    args: dict[str, Any] = dict(
        seed=1, steps=3, cfg=5.0, sampler_name="euler", scheduler="normal", denoise=1.0
    )
    args.update(values)
    out = run_node(
        sampling_nodes.KSampler, models=models, model=model, positive=positive, negative=negative,
        latent_image=latent, **args,
    )  # fmt: skip
    samples: np.ndarray = out["latent"]["samples"]
    return samples


def _load(models: Any, name: str) -> controlnet.ControlNet:
    net: controlnet.ControlNet = run_node(cn_nodes.ControlNetLoader, models=models, control_net_name=name)[
        "CONTROL_NET"
    ]
    return net


def _apply(
    models: Any, net: Any, positive: list[Cond], negative: list[Cond], **values: Any
) -> tuple[list[Cond], list[Cond]]:
    args: dict[str, Any] = dict(strength=1.0, start_percent=0.0, end_percent=1.0)
    args.update(values)
    out = run_node(
        cn_nodes.ControlNetApplyAdvanced, models=models, positive=positive, negative=negative, control_net=net,
        image=HINT, **args,
    )  # fmt: skip
    return out["positive"], out["negative"]


HINT = np.random.default_rng(0).random((1, 48, 64, 3), dtype=np.float32)  # another aspect: center-cropped


def test_controlnet_loads_in_each_layout_changes_the_result_and_layouts_agree(models):
    model, positive, negative, empty = _setup(models)
    plain = _sample(models, model, positive, negative, empty)
    results = []
    for layout, name in CONTROLNETS.items():
        net = _load(models, name)
        assert (net.family, net.layout) == ("sd1", layout)
        pos, neg = _apply(models, net, positive, negative)
        assert pos[0]["control"][0]["hint"].dtype == np.float32 and "control" not in positive[0]
        results.append(_sample(models, model, pos, neg, empty))
    assert np.isfinite(results[0]).all()
    assert np.abs(results[0] - plain).max() > 1e-3
    assert np.allclose(results[0], results[1], atol=1e-5) and np.allclose(results[0], results[2], atol=1e-5)


def test_strength_zero_and_out_of_range_percents_give_the_plain_result(models):
    model, positive, negative, empty = _setup(models)
    net = _load(models, CONTROLNETS["original"])
    plain = _sample(models, model, positive, negative, empty)
    pos, neg = _apply(models, net, positive, negative, strength=0.0)
    assert not any("control" in c for c in [*pos, *neg])  # ComfyUI's node returns its inputs
    # The denoiser itself: a zero-strength control adds zero residuals.
    hint = controlnet.hint_from_image(HINT)
    zero_pos = controlnet.attach(positive, net, hint, 0.0, 0.0, 1.0, apply_to_uncond=False)
    zero_neg = controlnet.attach(negative, net, hint, 0.0, 0.0, 1.0, apply_to_uncond=False)
    assert np.array_equal(_sample(models, model, zero_pos, zero_neg, empty), plain)
    # A range the run never reaches: with denoise 0.5 the run starts halfway, the control ends at 20%.
    half = _sample(models, model, positive, negative, empty, denoise=0.5)
    early_pos, early_neg = _apply(models, net, positive, negative, start_percent=0.0, end_percent=0.2)
    assert np.array_equal(_sample(models, model, early_pos, early_neg, empty, denoise=0.5), half)
    late_pos, late_neg = _apply(models, net, positive, negative, start_percent=0.6, end_percent=1.0)
    assert not np.array_equal(_sample(models, model, late_pos, late_neg, empty, denoise=0.5), half)


def test_chained_controlnets_add_up(models):
    model, positive, negative, empty = _setup(models)
    first, second = _load(models, CONTROLNETS["original"]), _load(models, "tiny-sd1-control-b.safetensors")
    one_pos, one_neg = _apply(models, first, positive, negative)
    both_pos, both_neg = _apply(models, second, one_pos, one_neg)
    assert len(both_pos[0]["control"]) == 2
    one = _sample(models, model, one_pos, one_neg, empty)
    both = _sample(models, model, both_pos, both_neg, empty)
    assert np.abs(both - one).max() > 1e-3
    # The chain is the sum: two uses of one ControlNet at strength 0.5 are one use at strength 1.
    half_pos, half_neg = _apply(models, first, positive, negative, strength=0.5)
    twice_pos, twice_neg = _apply(models, first, half_pos, half_neg, strength=0.5)
    assert np.allclose(_sample(models, model, twice_pos, twice_neg, empty), one, atol=1e-5)


def test_old_apply_node_also_steers_the_negative_prompt(models):
    model, positive, negative, empty = _setup(models)
    net = _load(models, CONTROLNETS["original"])
    old = run_node(cn_nodes.ControlNetApply, conditioning=positive, control_net=net, image=HINT, strength=1.0)
    both_pos, both_neg = _apply(models, net, positive, negative)
    via_old = _sample(models, model, old["CONDITIONING"], negative, empty)
    assert np.allclose(via_old, _sample(models, model, both_pos, both_neg, empty), atol=1e-5)
    advanced_positive_only = controlnet.attach(
        positive, net, controlnet.hint_from_image(HINT), 1.0, 0.0, 1.0, apply_to_uncond=False
    )
    assert not np.allclose(
        via_old, _sample(models, model, advanced_positive_only, negative, empty), atol=1e-5
    )


def test_sdxl_controlnet_runs_with_an_sdxl_model(models):
    model, positive, negative, empty = _setup(models, "sdxl")
    net = _load(models, "tiny-sdxl-control.safetensors")
    assert net.family == "sdxl"
    pos, neg = _apply(models, net, positive, negative)
    result = _sample(models, model, pos, neg, empty, steps=2)
    assert np.abs(result - _sample(models, model, positive, negative, empty, steps=2)).max() > 1e-3


def test_controlnet_of_another_family_is_refused_naming_both(models):
    model, positive, negative, empty = _setup(models, "sdxl")
    pos, neg = _apply(models, _load(models, CONTROLNETS["original"]), positive, negative, end_percent=0.0)
    with pytest.raises(DiffusionError, match=r"tiny-sd1-control\.safetensors is for SD1\.x.*tiny-sdxl.*sdxl"):
        _sample(models, model, pos, neg, empty, steps=1)


def test_a_file_that_is_no_controlnet_is_refused(models):
    with pytest.raises(
        DiffusionError, match="control_net_name: not-a-controlnet.safetensors: not a ControlNet"
    ):
        _load(models, "not-a-controlnet.safetensors")
