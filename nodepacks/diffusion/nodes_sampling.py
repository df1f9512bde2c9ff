"""The sampling nodes, with ComfyUI's names, inputs, defaults and semantics: KSampler, KSamplerAdvanced and the
custom-sampling family (SamplerCustom, SamplerCustomAdvanced, KSamplerSelect, BasicScheduler, BasicGuider,
CFGGuider, RandomNoise, DisableNoise, ManualSigmas).

SAMPLER and NOISE values are small JSON dicts and SIGMAS a float32 array, so all three are stored in the shared
cache like any other value; GUIDER holds the MODEL handle and is recomputed when needed (it is cheap).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from nodepacks import sdk
from nodepacks.diffusion.handles import Cond, DiffusionError, DiffusionModel, ModelSampling
from nodepacks.diffusion.sampling import (
    SAMPLER_NAMES,
    SCHEDULER_NAMES,
    Progress,
    basic_scheduler_sigmas,
    ksampler_sigmas,
    parse_sigmas,
    prepare_noise,
    sample,
    trim_sigmas,
)
from nodepacks.diffusion.sampling.guidance import DualCFG
from nodepacks.diffusion.sampling.schedulers import (
    beta_sigmas,
    flux2_sigmas,
    sd_turbo_sigmas,
    split_sigmas,
    split_sigmas_denoise,
)

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from nodepacks.diffusion.sampling import Denoiser


@dataclass(frozen=True)
class GuiderValue:
    """``GUIDER``: the model and the conditioning a sampler is guided by (ComfyUI's CFGGuider / BasicGuider)."""

    model: DiffusionModel
    positive: list[Any]
    negative: list[Any] | None
    cfg: float
    middle: list[Any] | None = None  # DualCFGGuider's cond2
    cfg2: float = 1.0  # DualCFGGuider's cfg_cond2_negative
    style: str = "regular"

    def dual(self) -> DualCFG | None:
        return None if self.middle is None else DualCFG(self.middle, self.cfg2, self.style)


if TYPE_CHECKING:  # the python types, for mypy; at run time the annotations carry ComfyUI's type names
    Model = DiffusionModel
    Conditioning = list[Cond]
    Latent = dict[str, Any]
    Sampler = dict[str, Any]
    Sigmas = np.ndarray
    Noise = dict[str, Any]
    Guider = GuiderValue
else:
    Model = sdk.define_type("MODEL", DiffusionModel)
    Conditioning = sdk.define_type("CONDITIONING", list)
    Latent = sdk.define_type("LATENT", dict)
    Sampler = sdk.define_type("SAMPLER", dict)
    Sigmas = sdk.define_type("SIGMAS", np.ndarray)
    Noise = sdk.define_type("NOISE", dict)
    Guider = sdk.define_type("GUIDER", GuiderValue)


def denoiser_for(model: DiffusionModel, ctx: sdk.Context) -> Denoiser:
    """The warm denoiser of ``model`` (the runtime loads it through the worker's model manager)."""
    from nodepacks.diffusion.runtime import prepare_denoiser

    return prepare_denoiser(model, ctx.models)  # type: ignore[return-value]


def latent_samples(latent: dict[str, Any], model: DiffusionModel, input_name: str) -> np.ndarray:
    """The latent's samples, checked against the model's channel count. An all-zero latent of another channel
    count (an EmptyLatentImage given to a 16-channel model) becomes zeros of the model's channels, as in
    ComfyUI; any other mismatch means the latent came from another family."""
    samples = np.asarray(latent["samples"], dtype=np.float32)
    want = model.latent_format.channels
    if samples.ndim != 4:
        raise DiffusionError(
            f"{input_name}: expected a latent batch (batch, channels, h, w), got shape {samples.shape}"
        )
    if samples.shape[1] != want:
        if not samples.any():
            return np.zeros((samples.shape[0], want, *samples.shape[2:]), dtype=np.float32)
        raise DiffusionError(
            f"{input_name} has {samples.shape[1]} channels but the {model.family} model works on {want}-channel "
            "latents: it comes from another model family (encode the image with this model's VAE)"
        )
    return samples


def _noise_for(noise: dict[str, Any], samples: np.ndarray, latent: dict[str, Any]) -> torch.Tensor:
    import torch

    if noise.get("kind") == "disabled":
        return torch.zeros(samples.shape, dtype=torch.float32)
    return prepare_noise(samples.shape, int(noise["seed"]), latent.get("batch_index"))


def run_sampling(
    ctx: sdk.Context,
    model: DiffusionModel,
    latent: dict[str, Any],
    input_name: str,
    noise: dict[str, Any],
    sigmas: np.ndarray,
    sampler: dict[str, Any],
    positive: list[Cond],
    negative: list[Cond] | None,
    cfg: float,
    dual: DualCFG | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Sample one LATENT; returns (output, denoised output) LATENTs the way ComfyUI's nodes build them."""
    samples = latent_samples(latent, model, input_name)
    if len(sigmas) == 0:
        unchanged = dict(latent, samples=samples)
        return unchanged, unchanged
    denoiser = denoiser_for(model, ctx)
    from nodepacks.diffusion.runtime import inpaint_conds  # an inpainting model reads the latent's mask

    positive, negative = inpaint_conds(denoiser, latent, positive, negative)
    if dual is not None:
        dual = DualCFG(inpaint_conds(denoiser, latent, dual.middle, None)[0], dual.cfg2, dual.style)
    progress = Progress(ctx.progress, model.latent_format)
    result = sample(
        denoiser,
        samples,
        _noise_for(noise, samples, latent),
        sigmas,
        str(sampler["sampler_name"]),
        positive,
        negative,
        cfg,
        callback=progress,
        seed=int(noise.get("seed", 0)),
        noise_mask=latent.get("noise_mask"),
        check_cancelled=ctx.check_cancelled,
        sampler_options=sampler.get("options"),
        model_options=model.options,
        dual=dual,
    )
    out = dict(latent, samples=result.numpy())
    denoised = out
    if progress.last_denoised is not None:
        last = model.latent_format.process_out(progress.last_denoised.float()).cpu().numpy()
        denoised = dict(latent, samples=last)
    return out, denoised


def _ksampler(
    ctx: sdk.Context,
    inputs: Any,
    *,
    seed: int,
    add_noise: bool,
    denoise: float,
    start_step: int | None,
    last_step: int | None,
    force_full_denoise: bool,
) -> dict[str, Any]:
    model: DiffusionModel = inputs.model
    sigmas = ksampler_sigmas(model.sampling, inputs.scheduler, inputs.sampler_name, inputs.steps, denoise)
    window = trim_sigmas(sigmas, start_step, last_step, force_full_denoise)
    if window is None:  # the step window is empty: ComfyUI returns the latent as it came
        return dict(inputs.latent_image, samples=latent_samples(inputs.latent_image, model, "latent_image"))
    noise = {"kind": "random", "seed": seed} if add_noise else {"kind": "disabled", "seed": seed}
    out, _ = run_sampling(
        ctx,
        model,
        inputs.latent_image,
        "latent_image",
        noise,
        window,
        {"sampler_name": inputs.sampler_name},
        inputs.positive,
        inputs.negative,
        inputs.cfg,
    )
    return out


class KSampler(sdk.Node):
    """Denoise a latent with a model, prompts and a sampler/scheduler pair. Returns the denoised LATENT."""

    id = "KSampler"
    category = "sampling"
    device = "gpu"

    class Inputs(sdk.Inputs):
        model: Model = sdk.link(tooltip="The model used to denoise the latent")
        seed: int = sdk.seed(0, tooltip="The random seed of the noise")
        steps: int = sdk.number(20, min=1, max=10000, tooltip="Denoising steps")
        cfg: float = sdk.number(
            8.0, min=0.0, max=100.0, step=0.1, round=0.01, tooltip="Classifier-free guidance scale"
        )
        sampler_name: str = sdk.select("euler", options=SAMPLER_NAMES, tooltip="The sampling algorithm")
        scheduler: str = sdk.select(
            "simple", options=SCHEDULER_NAMES, tooltip="How the noise levels are spaced"
        )
        positive: Conditioning = sdk.link(tooltip="What to include in the image")
        negative: Conditioning = sdk.link(tooltip="What to exclude from the image")
        latent_image: Latent = sdk.link(tooltip="The latent to denoise")
        denoise: float = sdk.number(
            1.0, min=0.0, max=1.0, step=0.01, tooltip="How much of the latent to replace"
        )

    class Outputs(sdk.Outputs):
        latent: Latent

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        out = _ksampler(
            ctx,
            inputs,
            seed=inputs.seed,
            add_noise=True,
            denoise=inputs.denoise,
            start_step=None,
            last_step=None,
            force_full_denoise=False,
        )
        return self.Outputs(latent=out)


class KSamplerAdvanced(sdk.Node):
    """KSampler over a window of steps, optionally without adding noise or leaving the remaining noise in."""

    id = "KSamplerAdvanced"
    category = "sampling"
    device = "gpu"

    class Inputs(sdk.Inputs):
        model: Model = sdk.link()
        add_noise: str = sdk.select("enable", options=["enable", "disable"])
        noise_seed: int = sdk.seed(0)
        steps: int = sdk.number(20, min=1, max=10000)
        cfg: float = sdk.number(8.0, min=0.0, max=100.0, step=0.1, round=0.01)
        sampler_name: str = sdk.select("euler", options=SAMPLER_NAMES)
        scheduler: str = sdk.select("simple", options=SCHEDULER_NAMES)
        positive: Conditioning = sdk.link()
        negative: Conditioning = sdk.link()
        latent_image: Latent = sdk.link()
        start_at_step: int = sdk.number(0, min=0, max=10000)
        end_at_step: int = sdk.number(10000, min=0, max=10000)
        return_with_leftover_noise: str = sdk.select("disable", options=["disable", "enable"])

    class Outputs(sdk.Outputs):
        latent: Latent

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        out = _ksampler(
            ctx,
            inputs,
            seed=inputs.noise_seed,
            add_noise=inputs.add_noise != "disable",
            denoise=1.0,
            start_step=inputs.start_at_step,
            last_step=inputs.end_at_step,
            force_full_denoise=inputs.return_with_leftover_noise != "enable",
        )
        return self.Outputs(latent=out)


class SamplerCustom(sdk.Node):
    """Sample with a chosen SAMPLER along given SIGMAS. Returns the result and the last step's prediction."""

    id = "SamplerCustom"
    category = "sampling/custom_sampling"
    device = "gpu"

    class Inputs(sdk.Inputs):
        model: Model = sdk.link()
        add_noise: bool = sdk.toggle(True)
        noise_seed: int = sdk.seed(0)
        cfg: float = sdk.number(8.0, min=0.0, max=100.0, step=0.1, round=0.01)
        positive: Conditioning = sdk.link()
        negative: Conditioning = sdk.link()
        sampler: Sampler = sdk.link()
        sigmas: Sigmas = sdk.link()
        latent_image: Latent = sdk.link()

    class Outputs(sdk.Outputs):
        output: Latent
        denoised_output: Latent

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        kind = "random" if inputs.add_noise else "disabled"
        out, denoised = run_sampling(
            ctx,
            inputs.model,
            inputs.latent_image,
            "latent_image",
            {"kind": kind, "seed": inputs.noise_seed},
            np.asarray(inputs.sigmas, dtype=np.float32),
            inputs.sampler,
            inputs.positive,
            inputs.negative,
            inputs.cfg,
        )
        return self.Outputs(output=out, denoised_output=denoised)


class SamplerCustomAdvanced(sdk.Node):
    """Sample with a NOISE source, a GUIDER, a SAMPLER and SIGMAS. Returns the result and the last prediction."""

    id = "SamplerCustomAdvanced"
    category = "sampling/custom_sampling"
    device = "gpu"

    class Inputs(sdk.Inputs):
        noise: Noise = sdk.link()
        guider: Guider = sdk.link()
        sampler: Sampler = sdk.link()
        sigmas: Sigmas = sdk.link()
        latent_image: Latent = sdk.link()

    class Outputs(sdk.Outputs):
        output: Latent
        denoised_output: Latent

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        guider: GuiderValue = inputs.guider
        out, denoised = run_sampling(
            ctx,
            guider.model,
            inputs.latent_image,
            "latent_image",
            inputs.noise,
            np.asarray(inputs.sigmas, dtype=np.float32),
            inputs.sampler,
            guider.positive,
            guider.negative,
            guider.cfg,
            guider.dual(),
        )
        return self.Outputs(output=out, denoised_output=denoised)


class KSamplerSelect(sdk.Node):
    """Pick a sampling algorithm by name. Returns a SAMPLER."""

    id = "KSamplerSelect"
    category = "sampling/custom_sampling/samplers"

    class Inputs(sdk.Inputs):
        sampler_name: str = sdk.select("euler", options=SAMPLER_NAMES)

    class Outputs(sdk.Outputs):
        sampler: Sampler

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(sampler={"sampler_name": inputs.sampler_name})


class BasicScheduler(sdk.Node):
    """The noise levels of a named schedule for a model. Returns SIGMAS (steps + 1 values, ending at 0)."""

    id = "BasicScheduler"
    category = "sampling/custom_sampling/schedulers"

    class Inputs(sdk.Inputs):
        model: Model = sdk.link()
        scheduler: str = sdk.select("simple", options=SCHEDULER_NAMES)
        steps: int = sdk.number(20, min=1, max=10000)
        denoise: float = sdk.number(1.0, min=0.0, max=1.0, step=0.01)

    class Outputs(sdk.Outputs):
        sigmas: Sigmas

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        sampling = inputs.model.sampling
        sigmas = basic_scheduler_sigmas(sampling, inputs.scheduler, inputs.steps, inputs.denoise)
        return self.Outputs(sigmas=sigmas)


class ManualSigmas(sdk.Node):
    """Noise levels typed by hand: every number in the text, in order. Returns SIGMAS."""

    id = "ManualSigmas"
    category = "sampling/custom_sampling/sigmas"

    class Inputs(sdk.Inputs):
        sigmas: str = sdk.text("1, 0.5", tooltip="Numbers separated by commas or spaces, noisiest first")

    class Outputs(sdk.Outputs):
        sigmas: Sigmas

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(sigmas=parse_sigmas(inputs.sigmas))


class RandomNoise(sdk.Node):
    """Seeded starting noise for SamplerCustomAdvanced. Returns NOISE."""

    id = "RandomNoise"
    category = "sampling/custom_sampling/noise"

    class Inputs(sdk.Inputs):
        noise_seed: int = sdk.seed(0)

    class Outputs(sdk.Outputs):
        noise: Noise

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(noise={"kind": "random", "seed": inputs.noise_seed})


class DisableNoise(sdk.Node):
    """No starting noise (the latent is sampled as it is). Returns NOISE."""

    id = "DisableNoise"
    category = "sampling/custom_sampling/noise"

    class Inputs(sdk.Inputs):
        pass

    class Outputs(sdk.Outputs):
        noise: Noise

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(noise={"kind": "disabled", "seed": 0})


class BasicGuider(sdk.Node):
    """Guide by one conditioning without CFG (Flux and other guidance-distilled models). Returns GUIDER."""

    id = "BasicGuider"
    category = "sampling/custom_sampling/guiders"

    class Inputs(sdk.Inputs):
        model: Model = sdk.link()
        conditioning: Conditioning = sdk.link()

    class Outputs(sdk.Outputs):
        guider: Guider

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(guider=GuiderValue(inputs.model, list(inputs.conditioning), None, 1.0))


class CFGGuider(sdk.Node):
    """Guide by a positive and a negative conditioning with a CFG scale. Returns GUIDER."""

    id = "CFGGuider"
    category = "sampling/custom_sampling/guiders"

    class Inputs(sdk.Inputs):
        model: Model = sdk.link()
        positive: Conditioning = sdk.link()
        negative: Conditioning = sdk.link()
        cfg: float = sdk.number(8.0, min=0.0, max=100.0, step=0.1, round=0.01)

    class Outputs(sdk.Outputs):
        guider: Guider

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        value = GuiderValue(inputs.model, list(inputs.positive), list(inputs.negative), inputs.cfg)
        return self.Outputs(guider=value)


# -- samplers with options ------------------------------------------------------------------------------------------


class SamplerEulerAncestral(sdk.Node):
    """Euler ancestral with its noise settings. Returns a SAMPLER."""

    id = "SamplerEulerAncestral"
    category = "sampling/custom_sampling/samplers"

    class Inputs(sdk.Inputs):
        eta: float = sdk.number(1.0, min=0.0, max=100.0, step=0.01)
        s_noise: float = sdk.number(1.0, min=0.0, max=100.0, step=0.01)

    class Outputs(sdk.Outputs):
        sampler: Sampler

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        options = {"eta": inputs.eta, "s_noise": inputs.s_noise}
        return self.Outputs(sampler={"sampler_name": "euler_ancestral", "options": options})


class SamplerDPMPP_2M_SDE(sdk.Node):  # noqa: N801 - ComfyUI's class name
    """DPM-Solver++(2M) SDE with its solver, noise settings and noise device. Returns a SAMPLER."""

    id = "SamplerDPMPP_2M_SDE"
    category = "sampling/custom_sampling/samplers"

    class Inputs(sdk.Inputs):
        solver_type: str = sdk.select("midpoint", options=["midpoint", "heun"])
        eta: float = sdk.number(1.0, min=0.0, max=100.0, step=0.01)
        s_noise: float = sdk.number(1.0, min=0.0, max=100.0, step=0.01)
        noise_device: str = sdk.select("gpu", options=["gpu", "cpu"])

    class Outputs(sdk.Outputs):
        sampler: Sampler

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        name = "dpmpp_2m_sde" + ("_heun" if inputs.solver_type == "heun" else "")
        if inputs.noise_device == "gpu":
            name += "_gpu"
        options = {"eta": inputs.eta, "s_noise": inputs.s_noise}
        return self.Outputs(sampler={"sampler_name": name, "options": options})


class SamplerLCM(sdk.Node):
    """Latent-consistency sampling with its per-step noise settings. Returns a SAMPLER."""

    id = "SamplerLCM"
    category = "sampling/custom_sampling/samplers"

    class Inputs(sdk.Inputs):
        s_noise: float = sdk.number(
            1.0,
            min=0.0,
            max=64.0,
            step=0.01,
            tooltip="Per-step noise multiplier at the first step (1 = training)",
        )
        s_noise_end: float = sdk.number(
            1.0, min=0.0, max=64.0, step=0.01, tooltip="Per-step noise multiplier at the last step"
        )
        noise_clip_std: float = sdk.number(
            0.0, min=0.0, max=10.0, step=0.01, tooltip="Clamp the per-step noise to +/- N std; 0 disables"
        )

    class Outputs(sdk.Outputs):
        sampler: Sampler

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        options = {
            "s_noise": float(inputs.s_noise),
            "s_noise_end": float(inputs.s_noise_end),
            "noise_clip_std": float(inputs.noise_clip_std),
        }
        return self.Outputs(sampler={"sampler_name": "lcm", "options": options})


# -- sigmas -------------------------------------------------------------------------------------------------------


class SplitSigmas(sdk.Node):
    """Split a schedule at a step: the high sigmas up to it and the low sigmas from it (both hold it)."""

    id = "SplitSigmas"
    category = "sampling/custom_sampling/sigmas"

    class Inputs(sdk.Inputs):
        sigmas: Sigmas = sdk.link()
        step: int = sdk.number(0, min=0, max=10000)

    class Outputs(sdk.Outputs):
        high_sigmas: Sigmas
        low_sigmas: Sigmas

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        high, low = split_sigmas(inputs.sigmas, inputs.step)
        return self.Outputs(high_sigmas=high, low_sigmas=low)


class SplitSigmasDenoise(sdk.Node):
    """Split a schedule so that the low sigmas are the last ``denoise`` fraction of its steps."""

    id = "SplitSigmasDenoise"
    category = "sampling/custom_sampling/sigmas"

    class Inputs(sdk.Inputs):
        sigmas: Sigmas = sdk.link()
        denoise: float = sdk.number(1.0, min=0.0, max=1.0, step=0.01)

    class Outputs(sdk.Outputs):
        high_sigmas: Sigmas
        low_sigmas: Sigmas

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        high, low = split_sigmas_denoise(inputs.sigmas, inputs.denoise)
        return self.Outputs(high_sigmas=high, low_sigmas=low)


class SetFirstSigma(sdk.Node):
    """Replace the first (noisiest) sigma of a schedule. Returns SIGMAS."""

    id = "SetFirstSigma"
    category = "sampling/custom_sampling/sigmas"

    class Inputs(sdk.Inputs):
        sigmas: Sigmas = sdk.link()
        sigma: float = sdk.number(136.0, min=0.0, max=20000.0, step=0.001)

    class Outputs(sdk.Outputs):
        sigmas: Sigmas

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        sigmas = np.array(inputs.sigmas, dtype=np.float32, copy=True)
        if len(sigmas):
            sigmas[0] = inputs.sigma
        return self.Outputs(sigmas=sigmas)


class SDTurboScheduler(sdk.Node):
    """SD-Turbo's schedule: a few of the timesteps 999, 899, ..., 99 for the model. Returns SIGMAS."""

    id = "SDTurboScheduler"
    category = "sampling/custom_sampling/schedulers"

    class Inputs(sdk.Inputs):
        model: Model = sdk.link()
        steps: int = sdk.number(1, min=1, max=10)
        denoise: float = sdk.number(1.0, min=0.0, max=1.0, step=0.01)

    class Outputs(sdk.Outputs):
        sigmas: Sigmas

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(sigmas=sd_turbo_sigmas(inputs.model.sampling, inputs.steps, inputs.denoise))


class BetaSamplingScheduler(sdk.Node):
    """The beta schedule with the beta distribution's alpha and beta chosen. Returns SIGMAS."""

    id = "BetaSamplingScheduler"
    category = "sampling/custom_sampling/schedulers"

    class Inputs(sdk.Inputs):
        model: Model = sdk.link()
        steps: int = sdk.number(20, min=1, max=10000)
        alpha: float = sdk.number(0.6, min=0.0, max=50.0, step=0.01)
        beta: float = sdk.number(0.6, min=0.0, max=50.0, step=0.01)

    class Outputs(sdk.Outputs):
        sigmas: Sigmas

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        sigmas = beta_sigmas(inputs.model.sampling, inputs.steps, inputs.alpha, inputs.beta)
        return self.Outputs(sigmas=sigmas)


class Flux2Scheduler(sdk.Node):
    """FLUX.2's schedule: evenly spaced times shifted by an amount fitted to the image size and step count.
    Returns SIGMAS."""

    id = "Flux2Scheduler"
    category = "sampling/custom_sampling/schedulers"

    class Inputs(sdk.Inputs):
        steps: int = sdk.number(20, min=1, max=4096)
        width: int = sdk.number(1024, min=16, max=16384, step=1)
        height: int = sdk.number(1024, min=16, max=16384, step=1)

    class Outputs(sdk.Outputs):
        sigmas: Sigmas

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(sigmas=flux2_sigmas(inputs.steps, round(inputs.width), round(inputs.height)))


# -- guiders ------------------------------------------------------------------------------------------------------


class DualCFGGuider(sdk.Node):
    """CFG with two positive conditionings: cond2 against the negative, cond1 against cond2. Returns GUIDER."""

    id = "DualCFGGuider"
    category = "sampling/custom_sampling/guiders"

    class Inputs(sdk.Inputs):
        model: Model = sdk.link()
        cond1: Conditioning = sdk.link()
        cond2: Conditioning = sdk.link()
        negative: Conditioning = sdk.link()
        cfg_conds: float = sdk.number(8.0, min=0.0, max=100.0, step=0.1, round=0.01)
        cfg_cond2_negative: float = sdk.number(8.0, min=0.0, max=100.0, step=0.1, round=0.01)
        style: str = sdk.select("regular", options=["regular", "nested"])

    class Outputs(sdk.Outputs):
        guider: Guider

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        value = GuiderValue(
            inputs.model,
            list(inputs.cond1),
            list(inputs.negative),
            inputs.cfg_conds,
            middle=list(inputs.cond2),
            cfg2=inputs.cfg_cond2_negative,
            style=inputs.style,
        )
        return self.Outputs(guider=value)


# -- model patches (options the guidance applies) ------------------------------------------------------------------


def with_option(model: DiffusionModel, **options: Any) -> DiffusionModel:
    """A copy of ``model`` with ``options`` set (the original handle is left as it was)."""
    return replace(model, options={**model.options, **options})


def with_post_cfg(model: DiffusionModel, *patch: Any) -> DiffusionModel:
    return with_option(model, post_cfg=(*model.options.get("post_cfg", ()), tuple(patch)))


class ModelSamplingAuraFlow(sdk.Node):
    """Make the model a rectified-flow model with a time shift and timesteps equal to sigma (AuraFlow, Lumina,
    HunyuanImage 3D, Chroma, Qwen-Image...). Returns MODEL."""

    id = "ModelSamplingAuraFlow"
    display_name = "ModelSamplingAuraFlow"
    category = "advanced/model"

    class Inputs(sdk.Inputs):
        model: Model = sdk.link()
        shift: float = sdk.number(1.73, min=0.0, max=100.0, step=0.01)

    class Outputs(sdk.Outputs):
        MODEL: Model

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        sampling = ModelSampling.flow(shift=inputs.shift, multiplier=1.0)
        return self.Outputs(MODEL=inputs.model.with_sampling(sampling))


class RescaleCFG(sdk.Node):
    """Rescale the CFG result to the positive prediction's spread (against over-saturation with v-prediction /
    zero-SNR models). Returns MODEL."""

    id = "RescaleCFG"
    category = "advanced/model"

    class Inputs(sdk.Inputs):
        model: Model = sdk.link()
        multiplier: float = sdk.number(0.7, min=0.0, max=1.0, step=0.01)

    class Outputs(sdk.Outputs):
        MODEL: Model

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(MODEL=with_option(inputs.model, rescale_cfg=float(inputs.multiplier)))


class CFGNorm(sdk.Node):
    """Cap the guided prediction's per-pixel norm at the positive prediction's, times ``strength``. Returns
    MODEL."""

    id = "CFGNorm"
    category = "advanced/guidance"

    class Inputs(sdk.Inputs):
        model: Model = sdk.link()
        strength: float = sdk.number(1.0, min=0.0, max=100.0, step=0.01)

    class Outputs(sdk.Outputs):
        patched_model: Model

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(patched_model=with_post_cfg(inputs.model, "cfg_norm", float(inputs.strength)))


class CFGZeroStar(sdk.Node):
    """CFG-Zero*: scale the negative prediction by its least-squares fit to the positive one before guiding.
    Returns MODEL."""

    id = "CFGZeroStar"
    category = "advanced/guidance"

    class Inputs(sdk.Inputs):
        model: Model = sdk.link()

    class Outputs(sdk.Outputs):
        patched_model: Model

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(patched_model=with_post_cfg(inputs.model, "cfg_zero_star"))


class DifferentialDiffusion(sdk.Node):
    """Inpaint with a soft mask: each latent pixel starts changing once the run has gone past ``1 - mask``, so
    grey mask values give gradual edits. Returns MODEL."""

    id = "DifferentialDiffusion"
    display_name = "Differential Diffusion"
    category = "_for_testing"

    class Inputs(sdk.Inputs):
        model: Model = sdk.link()
        strength: float = sdk.number(1.0, min=0.0, max=1.0, step=0.01)

    class Outputs(sdk.Outputs):
        MODEL: Model

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        if not math.isfinite(inputs.strength):
            raise DiffusionError("strength must be a number")
        spec = ("differential_diffusion", float(inputs.strength))
        return self.Outputs(MODEL=with_option(inputs.model, denoise_mask_function=spec))


NODES: list[type[sdk.Node]] = [
    KSampler,
    KSamplerAdvanced,
    SamplerCustom,
    SamplerCustomAdvanced,
    KSamplerSelect,
    BasicScheduler,
    ManualSigmas,
    RandomNoise,
    DisableNoise,
    BasicGuider,
    CFGGuider,
    SamplerEulerAncestral,
    SamplerDPMPP_2M_SDE,
    SamplerLCM,
    SplitSigmas,
    SplitSigmasDenoise,
    SetFirstSigma,
    SDTurboScheduler,
    BetaSamplingScheduler,
    Flux2Scheduler,
    DualCFGGuider,
    ModelSamplingAuraFlow,
    RescaleCFG,
    CFGNorm,
    CFGZeroStar,
    DifferentialDiffusion,
]
