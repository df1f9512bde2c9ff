"""Noise: the starting noise of a latent (ComfyUI's ``prepare_noise``) and the per-step noise of ancestral/SDE
samplers, all drawn from seeded generators so that a run is reproducible on one device."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch

NoiseSampler = Callable[[float, float], "torch.Tensor"]
"""``noise(sigma, sigma_next)``: unit-variance noise for the step from ``sigma`` to ``sigma_next``."""


def prepare_noise(shape: Sequence[int], seed: int, batch_index: Sequence[int] | None = None) -> torch.Tensor:
    """ComfyUI's starting noise: a CPU generator seeded with ``seed``, one ``randn`` of the latent's shape; with
    ``batch_index`` (a latent taken from a bigger batch) item ``i`` gets the noise item ``batch_index[i]`` would
    have had, so a batch of one reproduces one image of a batch."""
    import torch

    generator = torch.Generator(device="cpu").manual_seed(int(seed))
    if batch_index is None:
        return torch.randn(tuple(shape), generator=generator, dtype=torch.float32)
    unique, inverse = np.unique(np.asarray(batch_index, dtype=np.int64), return_inverse=True)
    drawn = []
    for i in range(int(unique[-1]) + 1):
        item = torch.randn((1, *shape[1:]), generator=generator, dtype=torch.float32)
        if i in unique:
            drawn.append(item)
    return torch.cat([drawn[int(i)] for i in inverse.reshape(-1)], dim=0)


def gaussian_noise_sampler(x: torch.Tensor, seed: int) -> NoiseSampler:
    """Independent noise per step from a generator on ``x``'s device (k-diffusion's default; ComfyUI seeds a CPU
    generator with ``seed + 1`` so that it does not repeat the starting noise)."""
    import torch

    generator = torch.Generator(device=x.device)
    generator.manual_seed(int(seed) + 1 if x.device.type == "cpu" else int(seed))
    shape, dtype, device = x.shape, x.dtype, x.device

    def sample(sigma: float, sigma_next: float) -> torch.Tensor:
        return torch.randn(shape, generator=generator, dtype=dtype, device=device)

    return sample


def brownian_noise_sampler(
    x: torch.Tensor, sigma_min: float, sigma_max: float, seed: int, *, on_cpu: bool = True
) -> NoiseSampler:
    """Noise from a torchsde Brownian tree over [sigma_min, sigma_max] (k-diffusion's SDE noise): the noise of a
    step depends on the interval it covers, not on how many steps came before, so SDE samplers converge as the
    step count grows. ``on_cpu`` keeps the tree on the CPU (ComfyUI's ``dpmpp_sde``; the ``_gpu`` variants
    build it on ``x``'s device)."""
    import torch
    import torchsde

    device = torch.device("cpu") if on_cpu else x.device
    t0 = torch.as_tensor(float(sigma_min), device=device)
    t1 = torch.as_tensor(float(sigma_max), device=device)
    w0 = torch.zeros(x.shape, dtype=torch.float32, device=device)
    tree = torchsde.BrownianTree(t0, w0, t1, entropy=int(seed), tol=1e-6)
    # The tree rounds its ends to its tolerance (6 digits) and warns when a query lies outside them: clamp the
    # queries the same way, quietly.
    start, end = round(float(sigma_min), 6), round(float(sigma_max), 6)
    out_device, out_dtype = x.device, x.dtype

    def sample(sigma: float, sigma_next: float) -> torch.Tensor:
        low, high = (sigma, sigma_next) if sigma < sigma_next else (sigma_next, sigma)
        sign = 1.0 if sigma < sigma_next else -1.0
        w: torch.Tensor = tree(min(max(low, start), end), min(max(high, start), end))
        scale: float = sign / abs(high - low) ** 0.5
        return w.to(device=out_device, dtype=out_dtype) * scale

    return sample
