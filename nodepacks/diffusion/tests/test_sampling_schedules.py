"""Sigma schedules: ComfyUI's scheduler names, their values at known points, lengths, denoise and step windows."""

import math

import numpy as np
import pytest

from nodepacks.diffusion.handles import ModelSampling
from nodepacks.diffusion.sampling import (
    SCHEDULER_NAMES,
    basic_scheduler_sigmas,
    calculate_sigmas,
    ksampler_sigmas,
    parse_sigmas,
    trim_sigmas,
)

SD = ModelSampling.discrete()
FLOW = ModelSampling.flow(shift=3.0)


@pytest.mark.parametrize("sampling", [SD, FLOW], ids=["eps", "flow"])
@pytest.mark.parametrize("name", SCHEDULER_NAMES)
def test_every_schedule_runs_down_to_zero(sampling, name):
    sigmas = calculate_sigmas(sampling, name, 9)
    assert sigmas.dtype == np.float32
    assert sigmas[-1] == 0.0
    assert np.all(np.diff(sigmas) < 0), sigmas
    if name == "beta":  # rounding may merge two timesteps
        assert 2 <= len(sigmas) <= 10
    else:
        assert len(sigmas) == 10
    assert sigmas[0] <= sampling.sigma_max * (1 + 1e-6)


def test_karras_and_exponential_follow_their_formulas():
    lo, hi = SD.sigma_min, SD.sigma_max
    karras = calculate_sigmas(SD, "karras", 5)
    assert karras[0] == pytest.approx(hi, rel=1e-6) and karras[4] == pytest.approx(lo, rel=1e-6)
    middle = ((hi ** (1 / 7) + lo ** (1 / 7)) / 2) ** 7  # ramp 0.5 in sigma^(1/rho)
    assert karras[2] == pytest.approx(middle, rel=1e-5)
    expo = calculate_sigmas(SD, "exponential", 5)[:-1]
    ratios = expo[1:] / expo[:-1]
    assert np.allclose(ratios, (lo / hi) ** 0.25, rtol=1e-5)


def test_normal_spans_the_training_range_and_simple_picks_evenly_spaced_timesteps():
    normal = calculate_sigmas(SD, "normal", 4)
    assert normal[0] == pytest.approx(SD.sigma_max, rel=1e-6)
    assert normal[-2] == pytest.approx(SD.sigma_min, rel=1e-6)  # the last timestep is included
    timesteps = np.linspace(999, 0, 4)
    middle = math.exp(np.interp(timesteps[1], np.arange(1000), np.log(SD.sigmas)))
    assert normal[1] == pytest.approx(middle, rel=1e-5)
    simple = calculate_sigmas(SD, "simple", 4)
    assert list(simple[:-1]) == pytest.approx(
        [SD.sigmas[999], SD.sigmas[749], SD.sigmas[499], SD.sigmas[249]]
    )
    sgm = calculate_sigmas(SD, "sgm_uniform", 4)
    assert sgm[0] == pytest.approx(SD.sigma_max) and sgm[-2] > SD.sigma_min * 10  # sgm stops short of t=0


def test_flow_schedules_use_the_shifted_sigmas():
    simple = calculate_sigmas(FLOW, "simple", 4)[:-1]
    t = np.array([1.0, 0.75, 0.5, 0.25])
    assert np.allclose(simple, 3 * t / (1 + 2 * t), rtol=1e-6)
    unshifted = calculate_sigmas(ModelSampling.flow(shift=1.0), "simple", 4)[:-1]
    assert np.allclose(unshifted, t)


def test_beta_schedule_is_dense_at_both_ends():
    sigmas = calculate_sigmas(SD, "beta", 20)[:-1]
    timesteps = [int(np.abs(np.log(SD.sigmas) - math.log(s)).argmin()) for s in sigmas]
    gaps = -np.diff(timesteps)
    assert timesteps[0] == 999
    assert gaps[0] < gaps[len(gaps) // 2] and gaps[-1] < gaps[len(gaps) // 2]


def test_denoise_keeps_the_tail_of_a_longer_schedule():
    full = calculate_sigmas(SD, "karras", 8)
    half = basic_scheduler_sigmas(SD, "karras", 4, 0.5)
    assert np.array_equal(half, full[-5:])
    assert len(basic_scheduler_sigmas(SD, "normal", 4, 0.0)) == 0
    assert np.array_equal(basic_scheduler_sigmas(SD, "normal", 6, 1.0), calculate_sigmas(SD, "normal", 6))
    assert np.array_equal(
        ksampler_sigmas(SD, "normal", "euler", 4, 0.5), calculate_sigmas(SD, "normal", 8)[-5:]
    )


def test_dpm_2_drops_the_penultimate_sigma_of_one_more_step():
    sigmas = ksampler_sigmas(SD, "karras", "dpm_2", 4, 1.0)
    longer = calculate_sigmas(SD, "karras", 5)
    assert len(sigmas) == 5
    assert np.array_equal(sigmas, np.concatenate([longer[:-2], longer[-1:]]))


def test_step_windows_of_ksampler_advanced():
    sigmas = calculate_sigmas(SD, "normal", 10)
    first = trim_sigmas(sigmas, 0, 4, force_full_denoise=False)
    assert first is not None and np.array_equal(first, sigmas[:5]) and first[-1] > 0  # leftover noise kept
    full = trim_sigmas(sigmas, 0, 4, force_full_denoise=True)
    assert full is not None and full[-1] == 0
    rest = trim_sigmas(sigmas, 4, 10000, True)
    assert rest is not None and np.array_equal(rest, sigmas[4:])
    assert trim_sigmas(sigmas, 10, 10000, True) is None
    assert sigmas[4] > 0  # trimming copies: the schedule itself is untouched


def test_manual_sigmas_reads_every_number():
    assert parse_sigmas("14.6, 7 3.5,0").tolist() == pytest.approx([14.6, 7.0, 3.5, 0.0])
    assert parse_sigmas("1, .5, 1e-2").tolist() == pytest.approx([1.0, 0.5, 0.01])
    assert len(parse_sigmas("")) == 0


def test_unknown_scheduler_is_refused():
    with pytest.raises(ValueError, match="unknown scheduler"):
        calculate_sigmas(SD, "bogus", 4)
