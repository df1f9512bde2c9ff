"""Sampling: sigma schedules, sampler algorithms, CFG, noise, progress and previews (ComfyUI's KSampler family).

``sample(denoiser, latent, noise, sigmas, sampler_name, positive, negative, cfg)`` is the whole of a run; the
nodes in ``nodepacks.diffusion.nodes_sampling`` wrap it with ComfyUI's inputs. Nothing here imports torch at
module level.
"""

from nodepacks.diffusion.sampling.denoiser import Denoiser
from nodepacks.diffusion.sampling.noise import prepare_noise
from nodepacks.diffusion.sampling.run import Progress, sample
from nodepacks.diffusion.sampling.samplers import SAMPLER_NAMES
from nodepacks.diffusion.sampling.schedulers import (
    SCHEDULER_NAMES,
    basic_scheduler_sigmas,
    calculate_sigmas,
    ksampler_sigmas,
    parse_sigmas,
    trim_sigmas,
)

__all__ = [
    "SAMPLER_NAMES",
    "SCHEDULER_NAMES",
    "Denoiser",
    "Progress",
    "basic_scheduler_sigmas",
    "calculate_sigmas",
    "ksampler_sigmas",
    "parse_sigmas",
    "prepare_noise",
    "sample",
    "trim_sigmas",
]
