"""The sampler algorithms, in k-diffusion's formulation (Karras et al. 2022): ``x`` is the noisy latent in sigma
space and ``model(x, sigma) -> denoised`` the predicted clean latent. ComfyUI's sampler names and semantics.

Each sampler is ``fn(model, x, sigmas, run) -> x`` where ``sigmas`` is a list of Python floats (the step
coefficients stay Python floats, so a step on a GPU launches only the tensor math and never synchronises) and
``run`` carries the per-step callback, the noise sampler and the model's schedule. Flow families (SD3, Flux)
take the rectified-flow variants where ComfyUI does (ancestral steps re-noise with ``1 - sigma`` scaling, SDE
samplers work in the flow half-log-SNR).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from nodepacks.diffusion.handles import ModelSampling
from nodepacks.diffusion.sampling.noise import NoiseSampler

if TYPE_CHECKING:  # pragma: no cover
    import torch

ModelFn = Callable[["torch.Tensor", float], "torch.Tensor"]
StepCallback = Callable[[int, "torch.Tensor", "torch.Tensor"], None]  # (step index, x, denoised)


@dataclass
class SamplerRun:
    """What a sampler needs besides the model and the sigmas."""

    sampling: ModelSampling
    callback: StepCallback
    noise: NoiseSampler | None = None
    eta: float = 1.0
    s_noise: float = 1.0

    @property
    def is_flow(self) -> bool:
        return self.sampling.prediction == "flow"


def _ancestral_step(sigma: float, sigma_next: float, eta: float) -> tuple[float, float]:
    """(sigma_down, sigma_up): the sigma to step down to deterministically and the noise to add back."""
    if not eta:
        return sigma_next, 0.0
    up = min(sigma_next, eta * (sigma_next**2 * (sigma**2 - sigma_next**2) / sigma**2) ** 0.5)
    return (sigma_next**2 - up**2) ** 0.5, up


def _half_log_snr(sampling: ModelSampling, sigma: float) -> float:
    """log(alpha / sigma): flow ``log((1 - s) / s)``, otherwise ``-log(s)``."""
    if sampling.prediction == "flow":
        return math.log((1.0 - sigma) / sigma)
    return -math.log(sigma)


def _sigma_of_half_log_snr(sampling: ModelSampling, lam: float) -> float:
    if sampling.prediction == "flow":
        return 1.0 / (1.0 + math.exp(lam))
    return math.exp(-lam)


def _offset_first_sigma(sampling: ModelSampling, sigmas: list[float]) -> list[float]:
    # A flow schedule starting at sigma 1 has an infinite log-SNR there; ComfyUI starts a hair below it.
    if sampling.prediction == "flow" and len(sigmas) > 1 and sigmas[0] >= 1.0:
        return [sampling.percent_to_sigma(1e-4), *sigmas[1:]]
    return sigmas


def _noise(run: SamplerRun) -> NoiseSampler:
    if run.noise is None:
        raise ValueError("this sampler needs a noise sampler")
    return run.noise


# -- first-order and ancestral ----------------------------------------------------------------------------------


def euler(model: ModelFn, x: torch.Tensor, sigmas: list[float], run: SamplerRun) -> torch.Tensor:
    """Euler steps on the probability-flow ODE (deterministic)."""
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, sigma)
        run.callback(i, x, denoised)
        x = x + (x - denoised) * ((sigma_next - sigma) / sigma)
    return x


def euler_ancestral(model: ModelFn, x: torch.Tensor, sigmas: list[float], run: SamplerRun) -> torch.Tensor:
    """Euler steps down to ``sigma_down`` then fresh noise up to the next sigma."""
    if run.is_flow:
        return _euler_ancestral_flow(model, x, sigmas, run)
    noise = _noise(run)
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, sigma)
        run.callback(i, x, denoised)
        down, up = _ancestral_step(sigma, sigma_next, run.eta)
        if down == 0:
            x = denoised
        else:
            x = x + (x - denoised) * ((down - sigma) / sigma) + noise(sigma, sigma_next) * (run.s_noise * up)
    return x


def _euler_ancestral_flow(
    model: ModelFn, x: torch.Tensor, sigmas: list[float], run: SamplerRun
) -> torch.Tensor:
    noise = _noise(run)
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, sigma)
        run.callback(i, x, denoised)
        if sigma_next == 0:
            x = denoised
            continue
        down = sigma_next * (1 + (sigma_next / sigma - 1) * run.eta)
        alpha_next, alpha_down = 1 - sigma_next, 1 - down
        renoise = (sigma_next**2 - down**2 * alpha_next**2 / alpha_down**2) ** 0.5
        ratio = down / sigma
        x = torch_lerp(denoised, x, ratio)
        if run.eta > 0:
            x = x * (alpha_next / alpha_down) + noise(sigma, sigma_next) * (run.s_noise * renoise)
    return x


def lcm(
    model: ModelFn,
    x: torch.Tensor,
    sigmas: list[float],
    run: SamplerRun,
    s_noise_end: float | None = None,
    noise_clip_std: float = 0.0,
) -> torch.Tensor:
    """Latent-consistency sampling: jump to the prediction, then re-noise it to the next sigma.

    SamplerLCM's options: the fresh noise is multiplied by a factor going linearly from ``run.s_noise`` at the
    first step to ``s_noise_end`` at the last, after being clamped to +/- ``noise_clip_std`` times its own
    standard deviation (0: no clamp)."""
    noise = _noise(run)
    steps = len(sigmas) - 1
    start = run.s_noise
    end = start if s_noise_end is None else float(s_noise_end)
    for i in range(steps):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, sigma)
        run.callback(i, x, denoised)
        x = denoised
        if sigma_next > 0:
            fresh = noise(sigma, sigma_next)
            if noise_clip_std > 0:
                limit = float(noise_clip_std) * float(fresh.std())
                fresh = fresh.clamp(-limit, limit)
            factor = start + (end - start) * (i / (steps - 1) if steps > 1 else 0.0)
            if factor != 1.0:
                fresh = fresh * factor
            x = run.sampling.noise_scaling(sigma_next, fresh, x)  # type: ignore[arg-type]
    return x


# -- second order ------------------------------------------------------------------------------------------------


def heun(model: ModelFn, x: torch.Tensor, sigmas: list[float], run: SamplerRun) -> torch.Tensor:
    """Heun's method (Karras et al. Algorithm 1): an Euler step corrected by the slope at its end."""
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, sigma)
        run.callback(i, x, denoised)
        d = (x - denoised) / sigma
        dt = sigma_next - sigma
        if sigma_next == 0:
            x = x + d * dt
        else:
            x_2 = x + d * dt
            denoised_2 = model(x_2, sigma_next)
            d_2 = (x_2 - denoised_2) / sigma_next
            x = x + (d + d_2) * (dt / 2)
    return x


def dpm_2(model: ModelFn, x: torch.Tensor, sigmas: list[float], run: SamplerRun) -> torch.Tensor:
    """DPM-Solver-2 style midpoint steps (the slope at the log-midpoint sigma)."""
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, sigma)
        run.callback(i, x, denoised)
        d = (x - denoised) / sigma
        if sigma_next == 0:
            x = x + d * (sigma_next - sigma)
        else:
            sigma_mid = math.exp(0.5 * (math.log(sigma) + math.log(sigma_next)))
            x_2 = x + d * (sigma_mid - sigma)
            denoised_2 = model(x_2, sigma_mid)
            x = x + (x_2 - denoised_2) * ((sigma_next - sigma) / sigma_mid)
    return x


def dpmpp_2m(model: ModelFn, x: torch.Tensor, sigmas: list[float], run: SamplerRun) -> torch.Tensor:
    """DPM-Solver++(2M): a multistep second-order solver reusing the previous step's prediction."""
    old_denoised = None
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, sigma)
        run.callback(i, x, denoised)
        if sigma_next == 0:
            x = denoised
        else:
            t, t_next = -math.log(sigma), -math.log(sigma_next)
            h = t_next - t
            scale, coef = sigma_next / sigma, -math.expm1(-h)
            if old_denoised is None:
                x = x * scale + denoised * coef
            else:
                r = (t - -math.log(sigmas[i - 1])) / h
                mixed = denoised * (1 + 1 / (2 * r)) - old_denoised * (1 / (2 * r))
                x = x * scale + mixed * coef
        old_denoised = denoised
    return x


# -- SDE ---------------------------------------------------------------------------------------------------------


def dpmpp_sde(
    model: ModelFn, x: torch.Tensor, sigmas: list[float], run: SamplerRun, r: float = 0.5
) -> torch.Tensor:
    """DPM-Solver++ (stochastic): a two-stage step with Brownian-tree noise in both stages."""
    noise = _noise(run)
    sampling, eta, s_noise = run.sampling, run.eta, run.s_noise
    sigmas = _offset_first_sigma(sampling, sigmas)
    fac = 1 / (2 * r)
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, sigma)
        run.callback(i, x, denoised)
        if sigma_next == 0:
            x = denoised
            continue
        lam_s, lam_t = _half_log_snr(sampling, sigma), _half_log_snr(sampling, sigma_next)
        h = lam_t - lam_s
        lam_mid = lam_s + r * h
        sigma_mid = _sigma_of_half_log_snr(sampling, lam_mid)
        alpha_s = sigma * math.exp(lam_s)
        alpha_mid = sigma_mid * math.exp(lam_mid)
        alpha_t = sigma_next * math.exp(lam_t)

        down, up = _ancestral_step(math.exp(-lam_s), math.exp(-lam_mid), eta)
        h_ = -math.log(down) - lam_s
        x_2 = x * ((alpha_mid / alpha_s) * math.exp(-h_)) - denoised * (alpha_mid * math.expm1(-h_))
        if eta > 0 and s_noise > 0:
            x_2 = x_2 + noise(sigma, sigma_mid) * (alpha_mid * s_noise * up)
        denoised_2 = model(x_2, sigma_mid)

        down, up = _ancestral_step(math.exp(-lam_s), math.exp(-lam_t), eta)
        h_ = -math.log(down) - lam_s
        mixed = denoised * (1 - fac) + denoised_2 * fac
        x = x * ((alpha_t / alpha_s) * math.exp(-h_)) - mixed * (alpha_t * math.expm1(-h_))
        if eta > 0 and s_noise > 0:
            x = x + noise(sigma, sigma_next) * (alpha_t * s_noise * up)
    return x


def dpmpp_2m_sde(
    model: ModelFn,
    x: torch.Tensor,
    sigmas: list[float],
    run: SamplerRun,
    solver: Literal["midpoint", "heun"] = "midpoint",
) -> torch.Tensor:
    """DPM-Solver++(2M) SDE: the multistep solver with noise injected at each step."""
    noise = _noise(run)
    sampling, eta, s_noise = run.sampling, run.eta, run.s_noise
    sigmas = _offset_first_sigma(sampling, sigmas)
    old_denoised = None
    h_last = 0.0
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, sigma)
        run.callback(i, x, denoised)
        if sigma_next == 0:
            x = denoised
        else:
            lam_s, lam_t = _half_log_snr(sampling, sigma), _half_log_snr(sampling, sigma_next)
            h = lam_t - lam_s
            h_eta = h * (eta + 1)
            alpha_t = sigma_next * math.exp(lam_t)
            coef = alpha_t * -math.expm1(-h_eta)
            x = x * (sigma_next / sigma * math.exp(-h * eta)) + denoised * coef
            if old_denoised is not None:
                r = h_last / h
                if solver == "heun":
                    correction = alpha_t * (-math.expm1(-h_eta) / -h_eta + 1) / r
                else:
                    correction = 0.5 * coef / r
                x = x + (denoised - old_denoised) * correction
            if eta > 0 and s_noise > 0:
                x = x + noise(sigma, sigma_next) * (sigma_next * (-math.expm1(-2 * h * eta)) ** 0.5 * s_noise)
            h_last = h
        old_denoised = denoised
    return x


def dpmpp_3m_sde(model: ModelFn, x: torch.Tensor, sigmas: list[float], run: SamplerRun) -> torch.Tensor:
    """DPM-Solver++(3M) SDE: third-order multistep with noise injected at each step."""
    noise = _noise(run)
    sampling, eta, s_noise = run.sampling, run.eta, run.s_noise
    sigmas = _offset_first_sigma(sampling, sigmas)
    denoised_1 = denoised_2 = None
    h_1 = h_2 = 0.0
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, sigma)
        run.callback(i, x, denoised)
        h = 0.0
        if sigma_next == 0:
            x = denoised
        else:
            lam_s, lam_t = _half_log_snr(sampling, sigma), _half_log_snr(sampling, sigma_next)
            h = lam_t - lam_s
            h_eta = h * (eta + 1)
            alpha_t = sigma_next * math.exp(lam_t)
            x = x * (sigma_next / sigma * math.exp(-h * eta)) + denoised * (alpha_t * -math.expm1(-h_eta))
            phi_2 = math.expm1(-h_eta) / h_eta + 1
            if denoised_2 is not None and denoised_1 is not None:
                r0, r1 = h_1 / h, h_2 / h
                d1_0 = (denoised - denoised_1) / r0
                d1_1 = (denoised_1 - denoised_2) / r1
                d1 = d1_0 + (d1_0 - d1_1) * (r0 / (r0 + r1))
                d2 = (d1_0 - d1_1) / (r0 + r1)
                phi_3 = phi_2 / h_eta - 0.5
                x = x + d1 * (alpha_t * phi_2) - d2 * (alpha_t * phi_3)
            elif denoised_1 is not None:
                x = x + (denoised - denoised_1) * (alpha_t * phi_2 / (h_1 / h))
            if eta > 0 and s_noise > 0:
                x = x + noise(sigma, sigma_next) * (sigma_next * (-math.expm1(-2 * h * eta)) ** 0.5 * s_noise)
        denoised_1, denoised_2 = denoised, denoised_1
        h_1, h_2 = h, h_1
    return x


# -- more of ComfyUI's samplers -----------------------------------------------------------------------------------


def _alpha(sampling: ModelSampling, sigma: float) -> float:
    """The signal scale of ``x`` at ``sigma``: 1 in k-diffusion's VE space, ``1 - sigma`` for flow."""
    return 1.0 - sigma if sampling.prediction == "flow" else 1.0


def dpm_2_ancestral(model: ModelFn, x: torch.Tensor, sigmas: list[float], run: SamplerRun) -> torch.Tensor:
    """DPM-Solver-2 midpoint steps down to ``sigma_down``, then fresh noise up to the next sigma (flow: the
    rectified-flow down step and re-noise, as ComfyUI's RF variant)."""
    noise = _noise(run)
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, sigma)
        run.callback(i, x, denoised)
        if run.is_flow:
            down = sigma_next * (1 + (sigma_next / sigma - 1) * run.eta)
            up = 0.0
            if down > 0:
                up = max(sigma_next**2 - down**2 * (1 - sigma_next) ** 2 / (1 - down) ** 2, 0.0) ** 0.5
        else:
            down, up = _ancestral_step(sigma, sigma_next, run.eta)
        d = (x - denoised) / sigma
        if down == 0:
            x = x + d * (down - sigma)
            continue
        sigma_mid = math.exp(0.5 * (math.log(sigma) + math.log(down)))
        x_2 = x + d * (sigma_mid - sigma)
        denoised_2 = model(x_2, sigma_mid)
        x = x + (x_2 - denoised_2) * ((down - sigma) / sigma_mid)
        if run.is_flow:
            x = x * ((1 - sigma_next) / (1 - down))
        if up > 0:
            x = x + noise(sigma, sigma_next) * (run.s_noise * up)
    return x


def ddpm(model: ModelFn, x: torch.Tensor, sigmas: list[float], run: SamplerRun) -> torch.Tensor:
    """Ancestral sampling from the DDPM posterior q(x_next | x, x0 = denoised) at each step."""
    noise = _noise(run)
    sampling = run.sampling
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, sigma)
        run.callback(i, x, denoised)
        if sigma_next == 0:
            x = denoised
            continue
        # x_t = a_t x0 + s_t n; the transition x_next -> x has scale a_t / a_next and variance s_t^2 - ...
        a_t, a_s = _alpha(sampling, sigma), _alpha(sampling, sigma_next)
        ratio = a_t / a_s
        var_ts = sigma**2 - ratio**2 * sigma_next**2
        x = x * (ratio * sigma_next**2 / sigma**2) + denoised * (a_s * var_ts / sigma**2)
        x = x + noise(sigma, sigma_next) * (max(var_ts, 0.0) ** 0.5 * sigma_next / sigma)
    return x


def res_multistep(model: ModelFn, x: torch.Tensor, sigmas: list[float], run: SamplerRun) -> torch.Tensor:
    """RES multistep (Zhang & Chen's exponential integrator, arXiv 2308.02157): second order from the
    previous step's prediction, with the phi functions of the log-SNR step."""
    sampling = run.sampling
    sigmas = _offset_first_sigma(sampling, sigmas)
    old_denoised = None
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, sigma)
        run.callback(i, x, denoised)
        if sigma_next == 0 or old_denoised is None:
            if sigma_next == 0:
                x = denoised
            else:
                lam, lam_next = _half_log_snr(sampling, sigma), _half_log_snr(sampling, sigma_next)
                h = lam_next - lam
                x = x * (sigma_next / sigma) - denoised * (_alpha(sampling, sigma_next) * math.expm1(-h))
        else:
            lam, lam_next = _half_log_snr(sampling, sigma), _half_log_snr(sampling, sigma_next)
            lam_prev = _half_log_snr(sampling, sigmas[i - 1])
            h = lam_next - lam
            c2 = (lam_prev - lam) / h
            phi1 = math.expm1(-h) / -h
            phi2 = (phi1 - 1.0) / -h
            b2 = phi2 / c2
            b1 = phi1 - b2
            coef = _alpha(sampling, sigma_next) * h
            x = x * (sigma_next / sigma) + denoised * (coef * b1) + old_denoised * (coef * b2)
        old_denoised = denoised
    return x


def _unipc_coefficients(
    h: float, rks: list[float], order: int, variant: str
) -> tuple[float, float, list[float] | None, list[float] | None]:
    """(h_phi_1, B(h), predictor weights, corrector weights) of one UniPC step of ``order``."""
    import numpy as np

    hh = -h  # data prediction
    h_phi_1 = math.expm1(hh)
    b_h = hh if variant == "bh1" else math.expm1(hh)
    h_phi_k = h_phi_1 / hh - 1.0
    factorial = 1
    rows, rhs = [], []
    for k in range(1, order + 1):
        rows.append([r ** (k - 1) for r in rks])
        rhs.append(h_phi_k * factorial / b_h)
        factorial *= k + 1
        h_phi_k = h_phi_k / hh - 1.0 / factorial
    matrix, vector = np.asarray(rows, dtype=np.float64), np.asarray(rhs, dtype=np.float64)
    predictor = None
    if order >= 2:
        predictor = [0.5] if order == 2 else np.linalg.solve(matrix[:-1, :-1], vector[:-1]).tolist()
    corrector = [0.5] if order == 1 else np.linalg.solve(matrix, vector).tolist()
    return h_phi_1, b_h, predictor, corrector


def uni_pc(
    model: ModelFn, x: torch.Tensor, sigmas: list[float], run: SamplerRun, variant: str = "bh1"
) -> torch.Tensor:
    """UniPC (Zhao et al. 2023): multistep UniP predictor of order up to 3 plus the UniC corrector, which
    reuses the next step's model call, in data prediction with ``B(h) = h`` (bh1) or ``e^h - 1`` (bh2).

    As in ComfyUI the order is ``min(3, steps - 1)``, lowered for the warm-up and the final steps, the last step
    has no corrector, and a final sigma of 0 becomes 0.001 (the log-SNR must stay finite)."""
    sampling = run.sampling
    sigmas = _offset_first_sigma(sampling, list(sigmas))
    if sigmas[-1] == 0:
        sigmas[-1] = 0.001
    steps = len(sigmas) - 1
    order = max(1, min(3, steps - 1))
    lams = [_half_log_snr(sampling, s) for s in sigmas]
    history: list[tuple[int, torch.Tensor]] = []  # (sigma index, data prediction) of recent points

    def step(
        x: torch.Tensor, index: int, this_order: int, corrector: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        prev_index, m0 = history[-1]
        h = lams[index] - lams[prev_index]
        rks, d1s = [], []
        for k in range(1, this_order):
            k_index, mk = history[-(k + 1)]
            rk = (lams[k_index] - lams[prev_index]) / h
            rks.append(rk)
            d1s.append((mk - m0) / rk)
        rks.append(1.0)
        h_phi_1, b_h, rhos_p, rhos_c = _unipc_coefficients(h, rks, this_order, variant)
        sigma_t, alpha_t = sigmas[index], _alpha(sampling, sigmas[index])
        x_base = x * (sigma_t / sigmas[prev_index]) - m0 * (alpha_t * h_phi_1)
        x_t = x_base
        if d1s and rhos_p is not None:
            x_t = x_base - sum(d * rho for d, rho in zip(d1s, rhos_p, strict=False)) * (alpha_t * b_h)
        if not corrector:
            return x_t, None
        model_t = model(x_t, sigma_t)
        correction = (model_t - m0) * rhos_c[-1]  # type: ignore[index]
        for d, rho in zip(d1s, rhos_c or (), strict=False):
            correction = correction + d * rho
        return x_base - correction * (alpha_t * b_h), model_t

    denoised = model(x, sigmas[0])
    run.callback(0, x, denoised)
    history.append((0, denoised))
    for index in range(1, steps + 1):
        this_order = min(order, index, steps + 1 - index)
        last = index == steps
        x, model_x = step(x, index, this_order, corrector=not last)
        if last:
            break
        if model_x is None:  # pragma: no cover - the corrector always evaluates the model
            model_x = model(x, sigmas[index])
        run.callback(index, x, model_x)
        history.append((index, model_x))
        del history[: max(len(history) - order, 0)]
    if sampling.prediction == "flow":
        x = x / (1.0 - sigmas[-1])
    return x


def torch_lerp(start: torch.Tensor, end: torch.Tensor, weight: float) -> torch.Tensor:
    """``start + weight * (end - start)`` in one kernel."""
    import torch

    return torch.lerp(start, end, weight)


# -- the registry ------------------------------------------------------------------------------------------------

NoiseKind = Literal["none", "gaussian", "brownian", "brownian_device"]


@dataclass(frozen=True)
class SamplerSpec:
    """A sampler name's algorithm, the noise it draws, and ComfyUI's inpainting quirk for it."""

    function: Callable[..., torch.Tensor]
    noise: NoiseKind = "none"
    inpaint_random_noise: bool = False  # ddim: masked-out areas are re-noised with their own seeded noise
    options: tuple[tuple[str, str], ...] = ()


SAMPLERS: dict[str, SamplerSpec] = {
    "euler": SamplerSpec(euler),
    "euler_ancestral": SamplerSpec(euler_ancestral, noise="gaussian"),
    "heun": SamplerSpec(heun),
    "dpm_2": SamplerSpec(dpm_2),
    "dpmpp_sde": SamplerSpec(dpmpp_sde, noise="brownian"),
    "dpmpp_sde_gpu": SamplerSpec(dpmpp_sde, noise="brownian_device"),
    "dpmpp_2m": SamplerSpec(dpmpp_2m),
    "dpmpp_2m_sde": SamplerSpec(dpmpp_2m_sde, noise="brownian"),
    "dpmpp_2m_sde_gpu": SamplerSpec(dpmpp_2m_sde, noise="brownian_device"),
    "dpmpp_2m_sde_heun": SamplerSpec(dpmpp_2m_sde, noise="brownian", options=(("solver", "heun"),)),
    "dpmpp_2m_sde_heun_gpu": SamplerSpec(
        dpmpp_2m_sde, noise="brownian_device", options=(("solver", "heun"),)
    ),
    "dpmpp_3m_sde": SamplerSpec(dpmpp_3m_sde, noise="brownian"),
    "dpmpp_3m_sde_gpu": SamplerSpec(dpmpp_3m_sde, noise="brownian_device"),
    "lcm": SamplerSpec(lcm, noise="gaussian"),
    "dpm_2_ancestral": SamplerSpec(dpm_2_ancestral, noise="gaussian"),
    "ddpm": SamplerSpec(ddpm, noise="gaussian"),
    "res_multistep": SamplerSpec(res_multistep),
    "uni_pc": SamplerSpec(uni_pc),
    "uni_pc_bh2": SamplerSpec(uni_pc, options=(("variant", "bh2"),)),
    # ComfyUI's ddim is Euler (deterministic DDIM is Euler on the probability-flow ODE) with its inpaint noise.
    "ddim": SamplerSpec(euler, inpaint_random_noise=True),
}

SAMPLER_NAMES = tuple(SAMPLERS)
"""The sampler names this pack runs (ComfyUI's names; the first is the KSampler default)."""
