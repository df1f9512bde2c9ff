"""Sigma schedules: ComfyUI's scheduler names over a family's :class:`ModelSampling`, as float32 numpy arrays.

Every schedule runs from the noisiest sigma down and ends with 0 (the clean latent), ``steps + 1`` values for
``steps`` steps (``beta`` may return fewer when rounding makes two timesteps equal, as ComfyUI's does). Flow
families get their shifted sigmas: the schedule is computed from ``sampling.schedule()``, which applies the shift.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from nodepacks.diffusion.handles import ModelSampling

SCHEDULER_NAMES = (
    "simple",
    "sgm_uniform",
    "karras",
    "exponential",
    "ddim_uniform",
    "beta",
    "normal",
    "linear_quadratic",
    "kl_optimal",
)
"""ComfyUI's scheduler names, in ComfyUI's order (the first is the KSampler default)."""

# Samplers that take one more step and drop the second-to-last sigma (ComfyUI's KSampler does this for them).
DISCARD_PENULTIMATE_SIGMA_SAMPLERS = frozenset({"dpm_2", "dpm_2_ancestral", "uni_pc", "uni_pc_bh2"})


def _sigma_at(sampling: ModelSampling, timestep: float) -> float:
    """The sigma of a (fractional) training timestep: log-linear between the discrete sigmas, flow: shifted."""
    if sampling.prediction == "flow":
        return sampling.flow_sigma(timestep / sampling.multiplier)
    sigmas = sampling.sigmas
    t = min(max(timestep, 0.0), len(sigmas) - 1.0)
    low, high = math.floor(t), math.ceil(t)
    w = t - low
    return math.exp((1.0 - w) * math.log(sigmas[low]) + w * math.log(sigmas[high]))


def _timestep_of(sampling: ModelSampling, sigma: float) -> float:
    """The training timestep of ``sigma`` (eps/v: the nearest index, as ComfyUI's ModelSamplingDiscrete)."""
    if sampling.prediction == "flow":
        return sigma * sampling.multiplier
    log_sigmas = np.log(np.asarray(sampling.sigmas, dtype=np.float64))
    return float(np.abs(log_sigmas - math.log(sigma)).argmin())


def _normal(sampling: ModelSampling, steps: int, sgm: bool = False) -> list[float]:
    start = _timestep_of(sampling, sampling.sigma_max)
    end = _timestep_of(sampling, sampling.sigma_min)
    append_zero = True
    if sgm:
        timesteps = np.linspace(start, end, steps + 1)[:-1]
    else:
        if math.isclose(_sigma_at(sampling, end), 0.0, abs_tol=1e-5):
            steps += 1
            append_zero = False
        timesteps = np.linspace(start, end, steps)
    sigmas = [_sigma_at(sampling, float(t)) for t in timesteps]
    return [*sigmas, 0.0] if append_zero else sigmas


def _simple(sampling: ModelSampling, steps: int) -> list[float]:
    table = sampling.schedule()
    stride = len(table) / steps
    return [float(table[-(1 + int(i * stride))]) for i in range(steps)] + [0.0]


def _ddim_uniform(sampling: ModelSampling, steps: int) -> list[float]:
    table = sampling.schedule()
    if math.isclose(float(table[1]), 0.0, abs_tol=1e-5):
        steps += 1
        out: list[float] = []
    else:
        out = [0.0]
    stride = max(len(table) // steps, 1)
    out += [float(s) for s in table[1::stride]]
    return out[::-1]


def _beta(sampling: ModelSampling, steps: int, alpha: float = 0.6, beta: float = 0.6) -> list[float]:
    from scipy import stats  # a heavy import, only for this schedule

    table = sampling.schedule()
    total = len(table) - 1
    times = 1.0 - np.linspace(0.0, 1.0, steps, endpoint=False)
    indices = np.rint(stats.beta.ppf(times, alpha, beta) * total)
    out: list[float] = []
    last = -1.0
    for index in indices:
        if index != last:  # rounding can land two steps on one timestep: keep it once
            out.append(float(table[int(index)]))
        last = index
    return [*out, 0.0]


def _karras(sampling: ModelSampling, steps: int, rho: float = 7.0) -> list[float]:
    ramp = np.linspace(0.0, 1.0, steps)
    min_inv, max_inv = sampling.sigma_min ** (1 / rho), sampling.sigma_max ** (1 / rho)
    return [*((max_inv + ramp * (min_inv - max_inv)) ** rho).tolist(), 0.0]


def _exponential(sampling: ModelSampling, steps: int) -> list[float]:
    logs = np.linspace(math.log(sampling.sigma_max), math.log(sampling.sigma_min), steps)
    return [*np.exp(logs).tolist(), 0.0]


def _linear_quadratic(sampling: ModelSampling, steps: int, threshold: float = 0.025) -> list[float]:
    # Mochi's schedule: linear in the low-noise half, quadratic above it, scaled to the model's sigma_max.
    if steps == 1:
        schedule = [1.0, 0.0]
    else:
        linear_steps = steps // 2
        quadratic_steps = steps - linear_steps
        linear = [i * threshold / linear_steps for i in range(linear_steps)]
        step_diff = linear_steps - threshold * steps
        quad_coef = step_diff / (linear_steps * quadratic_steps**2)
        lin_coef = threshold / linear_steps - 2 * step_diff / quadratic_steps**2
        const = quad_coef * linear_steps**2
        quadratic = [quad_coef * i**2 + lin_coef * i + const for i in range(linear_steps, steps)]
        schedule = [1.0 - s for s in [*linear, *quadratic, 1.0]]
    return [s * sampling.sigma_max for s in schedule]


def _kl_optimal(sampling: ModelSampling, steps: int) -> list[float]:
    weights = np.arange(steps, dtype=np.float64) / max(steps - 1, 1)
    angles = weights * math.atan(sampling.sigma_min) + (1 - weights) * math.atan(sampling.sigma_max)
    return [*np.tan(angles).tolist(), 0.0]


_SCHEDULERS: dict[str, Callable[[ModelSampling, int], list[float]]] = {
    "simple": _simple,
    "sgm_uniform": lambda sampling, steps: _normal(sampling, steps, sgm=True),
    "karras": _karras,
    "exponential": _exponential,
    "ddim_uniform": _ddim_uniform,
    "beta": _beta,
    "normal": _normal,
    "linear_quadratic": _linear_quadratic,
    "kl_optimal": _kl_optimal,
}


def calculate_sigmas(sampling: ModelSampling, scheduler: str, steps: int) -> np.ndarray:
    """The full schedule of ``steps`` steps named ``scheduler`` for ``sampling`` (float32, last value 0)."""
    if scheduler not in _SCHEDULERS:
        raise ValueError(f"unknown scheduler {scheduler!r}: one of {', '.join(SCHEDULER_NAMES)}")
    if steps <= 0:
        return np.zeros(0, dtype=np.float32)
    return np.asarray(_SCHEDULERS[scheduler](sampling, int(steps)), dtype=np.float32)


def basic_scheduler_sigmas(sampling: ModelSampling, scheduler: str, steps: int, denoise: float) -> np.ndarray:
    """ComfyUI's BasicScheduler: with ``denoise`` < 1 the schedule of ``steps / denoise`` steps, keeping its last
    ``steps`` steps (so a partial denoise starts part-way down the full schedule); empty for ``denoise`` <= 0."""
    total = steps
    if denoise < 1.0:
        if denoise <= 0.0:
            return np.zeros(0, dtype=np.float32)
        total = int(steps / denoise)
    return calculate_sigmas(sampling, scheduler, total)[-(steps + 1) :].copy()


def ksampler_sigmas(
    sampling: ModelSampling, scheduler: str, sampler: str, steps: int, denoise: float
) -> np.ndarray:
    """ComfyUI's KSampler schedule: BasicScheduler's, with one extra step whose second-to-last sigma is dropped
    for the samplers that need it (dpm_2...)."""

    def full(n: int) -> np.ndarray:
        if sampler in DISCARD_PENULTIMATE_SIGMA_SAMPLERS:
            sigmas = calculate_sigmas(sampling, scheduler, n + 1)
            return np.concatenate([sigmas[:-2], sigmas[-1:]])
        return calculate_sigmas(sampling, scheduler, n)

    if denoise > 0.9999:
        return full(steps)
    if denoise <= 0.0:
        return np.zeros(0, dtype=np.float32)
    return full(int(steps / denoise))[-(steps + 1) :].copy()


def beta_sigmas(sampling: ModelSampling, steps: int, alpha: float, beta: float) -> np.ndarray:
    """BetaSamplingScheduler: the ``beta`` schedule with its distribution's ``alpha``/``beta`` chosen."""
    if steps <= 0:
        return np.zeros(0, dtype=np.float32)
    return np.asarray(_beta(sampling, int(steps), alpha, beta), dtype=np.float32)


def sd_turbo_sigmas(sampling: ModelSampling, steps: int, denoise: float) -> np.ndarray:
    """SDTurboScheduler: ``steps`` of the ten timesteps 999, 899, ..., 99 (from the ``denoise`` point on),
    then 0."""
    start = 10 - int(10 * denoise)
    timesteps = [999 - 100 * i for i in range(10)][start : start + steps]
    return np.asarray([*(_sigma_at(sampling, float(t)) for t in timesteps), 0.0], dtype=np.float32)


def flux2_empirical_mu(image_seq_len: float, steps: int) -> float:
    """FLUX.2's resolution- and step-dependent time shift (log of the shift), fitted by Black Forest Labs:
    linear in the token count, interpolated between its fits at 10 and 200 steps below 4300 tokens."""
    slope_10, intercept_10 = 8.73809524e-05, 1.89833333
    slope_200, intercept_200 = 0.00016927, 0.45666666
    mu_200 = slope_200 * image_seq_len + intercept_200
    if image_seq_len > 4300:
        return float(mu_200)
    mu_10 = slope_10 * image_seq_len + intercept_10
    per_step = (mu_200 - mu_10) / 190.0
    return float(mu_200 + per_step * (steps - 200))


def flux2_sigmas(steps: int, width: int, height: int) -> np.ndarray:
    """Flux2Scheduler: ``steps + 1`` evenly spaced times from 1 to 0, shifted by ``exp(mu)`` for a
    ``width`` x ``height`` image (one token per 16x16 pixels)."""
    mu = flux2_empirical_mu(width * height / (16 * 16), steps)
    times = np.linspace(1.0, 0.0, steps + 1, dtype=np.float64)
    shift = math.exp(mu)
    with np.errstate(divide="ignore"):
        sigmas = np.where(times > 0, shift / (shift + (1.0 / np.maximum(times, 1e-300) - 1.0)), 0.0)
    return sigmas.astype(np.float32)


def split_sigmas(sigmas: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray]:
    """SplitSigmas: (the first ``step + 1`` sigmas, the sigmas from ``step`` on): both share sigma ``step``."""
    sigmas = np.asarray(sigmas, dtype=np.float32)
    return sigmas[: step + 1].copy(), sigmas[step:].copy()


def split_sigmas_denoise(sigmas: np.ndarray, denoise: float) -> tuple[np.ndarray, np.ndarray]:
    """SplitSigmasDenoise: the last ``round(steps * denoise)`` steps go to the low half, the rest to the high
    half (which keeps the shared sigma at the split)."""
    sigmas = np.asarray(sigmas, dtype=np.float32)
    steps = max(len(sigmas) - 1, 0)
    low_steps = round(steps * denoise)
    if low_steps <= 0:  # as ComfyUI's slicing: nothing high, the last sigma low
        return sigmas[:0].copy(), sigmas[-1:].copy()
    return sigmas[:-low_steps].copy(), sigmas[-(low_steps + 1) :].copy()


def trim_sigmas(
    sigmas: np.ndarray, start_step: int | None, last_step: int | None, force_full_denoise: bool
) -> np.ndarray | None:
    """KSamplerAdvanced's step window: sigmas from ``start_step`` to ``last_step``; the last one set to 0 when
    ``force_full_denoise``. None when the window is empty (the caller returns its input latent unchanged)."""
    sigmas = np.asarray(sigmas, dtype=np.float32)
    if last_step is not None and last_step < len(sigmas) - 1:
        sigmas = sigmas[: last_step + 1].copy()
        if force_full_denoise:
            sigmas[-1] = 0.0
    if start_step is not None:
        if start_step < len(sigmas) - 1:
            sigmas = sigmas[start_step:]
        else:
            return None
    return sigmas


def parse_sigmas(text: str) -> np.ndarray:
    """ManualSigmas: every number in ``text`` (commas, spaces or anything between them), float32."""
    import re

    numbers = re.findall(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?", text)
    return np.asarray([float(n) for n in numbers], dtype=np.float32)
