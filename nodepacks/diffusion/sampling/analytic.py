"""An exact denoiser with closed-form answers, for testing samplers and measuring sampling overhead.

If the clean data are Gaussian, ``x0 ~ N(mu, std^2)`` per element, the ideal denoiser is affine in ``x`` and the
probability-flow ODE has a closed-form solution: from ``x`` at ``sigma`` the clean sample is
``mu + (x - mean) * std / spread`` with ``mean``/``spread`` the mean and standard deviation of noisy data at
``sigma``. So an ODE sampler's output can be compared with the exact answer, and an SDE sampler's outputs
should be distributed as ``N(mu, std^2)``.

``mu`` comes from the conditioning (the mean of each entry's ``cross_attn``, per batch row when it has one row
per item), so CFG has a closed form too: guidance with scale ``cfg`` samples ``N(mu_u + cfg (mu_c - mu_u), ...)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from nodepacks.diffusion.handles import LatentFormat, ModelSampling

if TYPE_CHECKING:  # pragma: no cover
    import torch


class GaussianDenoiser:
    """The exact denoiser of ``N(mu, std^2)`` data; ``calls``/``sigmas_seen`` record how it was used."""

    def __init__(
        self,
        sampling: ModelSampling,
        latent_format: LatentFormat | None = None,
        *,
        std: float = 0.5,
        default_mu: float = 0.0,
        device: str = "cpu",
    ):
        import torch

        self.sampling = sampling
        self.latent_format = latent_format or LatentFormat(channels=4, scale_factor=1.0)
        self.std = std
        self.default_mu = default_mu
        self.device = device
        self.dtype = torch.float32
        self.calls = 0
        self.batch_sizes: list[int] = []
        self.sigmas_seen: list[float] = []
        self.inputs: list[Any] = []  # weak references to the inputs, when ``keep_refs``
        self.keep_refs = False

    def mean_of(self, conds: Sequence[Mapping[str, Any]], batch: int) -> torch.Tensor:
        """Per-item ``mu``: the strength-weighted average of the entries' ``cross_attn`` means."""
        import torch

        total = torch.zeros(batch)
        weights = 0.0
        for cond in conds:
            emb = cond.get("cross_attn")
            strength = float(cond.get("strength", 1.0))
            if emb is None:
                mu = torch.full((batch,), self.default_mu)
            else:
                emb = torch.as_tensor(emb).float().cpu()
                rows = emb.reshape(emb.shape[0], -1).mean(dim=1)
                mu = rows if rows.shape[0] == batch else rows[:1].expand(batch)
            total += mu * strength
            weights += strength
        return (total / max(weights, 1e-8)).reshape(-1, 1, 1, 1)

    def __call__(
        self, x: torch.Tensor, sigma: torch.Tensor, conds: Sequence[Mapping[str, Any]]
    ) -> torch.Tensor:
        import weakref

        self.calls += 1
        self.batch_sizes.append(int(x.shape[0]))
        self.sigmas_seen.append(float(sigma.reshape(-1)[0]))
        if self.keep_refs:
            self.inputs.append(weakref.ref(x))
        mu = self.mean_of(conds, x.shape[0]).to(x.device)
        s = sigma.reshape(-1, 1, 1, 1).to(x.dtype)
        var = self.std**2
        if self.sampling.prediction == "flow":
            alpha = 1.0 - s
            gain = alpha * var / (alpha**2 * var + s**2)
            return mu + gain * (x - alpha * mu)
        return mu + var / (var + s**2) * (x - mu)

    def exact(self, x: np.ndarray | torch.Tensor, sigma: float, mu: float) -> Any:
        """The probability-flow ODE's clean sample from ``x`` at ``sigma`` (same type as ``x``)."""
        if self.sampling.prediction == "flow":
            mean, spread = (1.0 - sigma) * mu, ((1.0 - sigma) ** 2 * self.std**2 + sigma**2) ** 0.5
        else:
            mean, spread = mu, (self.std**2 + sigma**2) ** 0.5
        return mu + (x - mean) * (self.std / spread)
