"""One sampling run: ``sample(denoiser, latent, noise, sigmas, sampler_name, positive, negative, cfg)``.

ComfyUI's KSampler core without the node: the latent goes into denoiser space, is noised to the first sigma,
the named sampler walks the sigmas with CFG, an inpainting mask keeps the masked-out latent at every step, and
the result comes back in VAE latent space on the CPU. A cancelled or failed run drops every tensor it made
before the error propagates (and empties the CUDA cache), so a stopped run leaves no GPU memory behind.
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from nodepacks.diffusion.handles import LatentFormat
from nodepacks.diffusion.sampling.denoiser import Denoiser
from nodepacks.diffusion.sampling.guidance import DualCFG, Guided
from nodepacks.diffusion.sampling.noise import NoiseSampler, brownian_noise_sampler, gaussian_noise_sampler
from nodepacks.diffusion.sampling.samplers import SAMPLERS, SamplerRun

if TYPE_CHECKING:  # pragma: no cover
    import torch

ProgressCallback = Callable[[int, int, "torch.Tensor", "torch.Tensor"], None]
"""``callback(step, total, x, denoised)`` after each step's first model call; ``step`` counts from 1."""


def _as_tensor(value: Any) -> torch.Tensor:
    import torch

    if isinstance(value, torch.Tensor):
        return value
    return torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))


def prepare_mask(mask: Any, shape: Sequence[int], device: Any) -> torch.Tensor:
    """A LATENT's ``noise_mask`` (any resolution, 1 = regenerate) resized bilinearly to the latent, one channel
    per latent channel and one row per batch item (ComfyUI's ``prepare_mask``)."""
    import torch

    tensor = _as_tensor(mask).to(device=device, dtype=torch.float32)
    tensor = tensor.reshape(-1, 1, tensor.shape[-2], tensor.shape[-1])
    tensor = torch.nn.functional.interpolate(tensor, size=tuple(shape[2:]), mode="bilinear")
    tensor = tensor.expand(-1, shape[1], -1, -1)
    if tensor.shape[0] < shape[0]:
        tensor = tensor.repeat(math.ceil(shape[0] / tensor.shape[0]), 1, 1, 1)
    return tensor[: shape[0]].contiguous()


def _noise_sampler(kind: str, x: torch.Tensor, sigmas: list[float], seed: int) -> NoiseSampler | None:
    if kind == "gaussian":
        return gaussian_noise_sampler(x, seed)
    if kind in ("brownian", "brownian_device"):
        positive = [s for s in sigmas if s > 0]
        return brownian_noise_sampler(x, min(positive), max(sigmas), seed, on_cpu=kind == "brownian")
    return None


def sample(
    denoiser: Denoiser,
    latent: Any,
    noise: Any,
    sigmas: Sequence[float] | np.ndarray,
    sampler_name: str,
    positive: Sequence[Mapping[str, Any]],
    negative: Sequence[Mapping[str, Any]] | None,
    cfg: float,
    callback: ProgressCallback | None = None,
    seed: int = 0,
    *,
    noise_mask: Any = None,
    check_cancelled: Callable[[], None] | None = None,
    sampler_options: Mapping[str, Any] | None = None,
    model_options: Mapping[str, Any] | None = None,
    dual: DualCFG | None = None,
) -> torch.Tensor:
    """Sample ``latent`` (VAE latent space, (batch, channels, h, w)) along ``sigmas`` and return the result in the
    same space as a float32 CPU tensor. ``noise`` is the starting noise (``prepare_noise``; zeros to add none),
    ``seed`` seeds the per-step noise of ancestral/SDE samplers. ``check_cancelled`` runs before every model
    call and may raise to stop the run. ``model_options`` are the MODEL's patches (``DiffusionModel.options``:
    RescaleCFG, CFGNorm, CFGZeroStar, DifferentialDiffusion); ``dual`` makes the guidance DualCFGGuider's."""
    import torch

    if sampler_name not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler_name!r}: one of {', '.join(SAMPLERS)}")
    spec = SAMPLERS[sampler_name]
    steps = [float(s) for s in np.asarray(sigmas, dtype=np.float32).reshape(-1)]
    latent_in = _as_tensor(latent).to(torch.float32)
    if not steps:
        return latent_in.cpu().clone()
    device = torch.device(denoiser.device)
    fmt: LatentFormat = denoiser.latent_format
    sampling = denoiser.sampling
    try:
        with torch.inference_mode():
            return _run(
                denoiser, latent_in, _as_tensor(noise), steps, spec, positive, negative, cfg, callback, seed,
                noise_mask, check_cancelled, dict(spec.options) | dict(sampler_options or {}), device, fmt, sampling,
                dict(model_options or {}), dual,
            )  # fmt: skip
    except BaseException as error:
        # The traceback's frames hold the run's tensors (x, denoised, noise...): clear them so the memory is
        # freed now and not when the error object dies.
        traceback.clear_frames(error.__traceback__)
        if device.type == "cuda":
            torch.cuda.empty_cache()
        raise


def _run(
    denoiser: Denoiser,
    latent: torch.Tensor,
    noise: torch.Tensor,
    sigmas: list[float],
    spec: Any,
    positive: Sequence[Mapping[str, Any]],
    negative: Sequence[Mapping[str, Any]] | None,
    cfg: float,
    callback: ProgressCallback | None,
    seed: int,
    noise_mask: Any,
    check_cancelled: Callable[[], None] | None,
    options: dict[str, Any],
    device: torch.device,
    fmt: LatentFormat,
    sampling: Any,
    model_options: dict[str, Any],
    dual: DualCFG | None,
) -> torch.Tensor:
    import torch

    latent = latent.to(device)
    if torch.count_nonzero(latent) > 0:  # ComfyUI leaves an empty latent at zero rather than shifting it
        latent = fmt.process_in(latent)
    noise = noise.to(device=device, dtype=torch.float32)
    batch = latent.shape[0]
    guided = Guided(
        denoiser, positive, negative, cfg, batch, check_cancelled, options=model_options, dual=dual
    )
    model: Callable[[torch.Tensor, float], torch.Tensor] = guided

    if noise_mask is not None:
        mask = prepare_mask(noise_mask, latent.shape, device)
        keep = 1.0 - mask
        inpaint_noise = noise
        if spec.inpaint_random_noise:
            generator = torch.Generator(device="cpu").manual_seed(int(seed) + 1)
            inpaint_noise = torch.randn(tuple(noise.shape), generator=generator).to(device)
        kept_latent = latent * keep
        mask_at = _denoise_mask_function(model_options.get("denoise_mask_function"), sampling, sigmas)

        def inpainting(x: torch.Tensor, sigma: float) -> torch.Tensor:
            # The masked-out area is the input latent noised to this sigma, the prediction there the input.
            if mask_at is not None:
                step_mask = mask_at(mask, sigma)
                step_keep = 1.0 - step_mask
                known = sampling.noise_scaling(sigma, inpaint_noise, latent) * step_keep
                return guided(x * step_mask + known, sigma) * step_mask + latent * step_keep
            known = sampling.noise_scaling(sigma, inpaint_noise, latent) * keep
            return guided(x * mask + known, sigma) * mask + kept_latent

        model = inpainting

    total = len(sigmas) - 1

    def on_step(i: int, x: torch.Tensor, denoised: torch.Tensor) -> None:
        if callback is not None:
            callback(i + 1, total, x, denoised)

    max_sigma = sampling.sigma_max
    max_denoise = math.isclose(max_sigma, sigmas[0], rel_tol=1e-5) or sigmas[0] > max_sigma
    x = sampling.noise_scaling(sigmas[0], noise, latent, max_denoise)
    run = SamplerRun(sampling, on_step, _noise_sampler(spec.noise, x, sigmas, seed))
    if "eta" in options:
        run.eta = float(options.pop("eta"))
    if "s_noise" in options:
        run.s_noise = float(options.pop("s_noise"))
    x = spec.function(model, x, sigmas, run, **options)
    x = sampling.inverse_noise_scaling(sigmas[-1], x)
    return fmt.process_out(x.float()).cpu()


def _denoise_mask_function(
    spec: tuple[str, float] | None, sampling: Any, sigmas: list[float]
) -> Callable[[torch.Tensor, float], torch.Tensor] | None:
    """DifferentialDiffusion's per-step mask: a latent pixel is regenerated once the run's progress, measured in
    model timesteps from the first sigma to the last (at least ``sigma_min``), passes ``1 - mask``; so a soft
    mask says how late each pixel starts to change. ``strength`` < 1 blends the binary mask with the soft one."""
    if spec is None:
        return None
    kind, strength = spec
    if kind != "differential_diffusion":
        raise ValueError(f"unknown denoise mask function {kind!r}")
    import torch

    def timestep(sigma: float) -> float:
        return float(sampling.timestep(torch.tensor([sigma], dtype=torch.float32))[0])

    sigma_to = max(sampling.sigma_min, sigmas[-1])
    ts_from, ts_to = timestep(sigmas[0]), timestep(sigma_to)

    def mask_at(mask: torch.Tensor, sigma: float) -> torch.Tensor:
        span = ts_from - ts_to
        threshold = (timestep(sigma) - ts_to) / span if span else 0.0
        binary = (mask >= threshold).to(mask.dtype)
        if strength and strength < 1:
            return binary * strength + mask * (1 - strength)
        return binary

    return mask_at


class Progress:
    """``ctx.progress`` once per step with a latent preview at most every ``interval`` seconds.

    The preview is the family's cheap latent -> RGB projection of the first item's current prediction, on the
    latent strided down to at most ``max_side`` pixels a side; between previews a step costs one progress call.
    """

    def __init__(
        self,
        report: Callable[..., None],
        latent_format: LatentFormat,
        *,
        interval: float = 0.25,
        max_side: int = 64,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.report = report
        self.latent_format = latent_format
        self.interval = interval
        self.max_side = max_side
        self.clock = clock
        self.last_preview = -math.inf
        self.previews = 0
        self.last_denoised: torch.Tensor | None = None

    def __call__(self, step: int, total: int, x: torch.Tensor, denoised: torch.Tensor) -> None:
        self.last_denoised = denoised
        now = self.clock()
        if now - self.last_preview < self.interval:
            self.report(step, total)
            return
        self.last_preview = now
        self.previews += 1
        self.report(step, total, preview=self.preview(denoised))

    def preview(self, denoised: torch.Tensor) -> np.ndarray:
        """An (h, w, 3) float32 image of ``denoised[0]``."""
        first = denoised[0]
        stride = max(1, math.ceil(max(first.shape[-2:]) / self.max_side))
        small = first[:, ::stride, ::stride].float().cpu().numpy()
        return self.latent_format.preview_rgb(small)
