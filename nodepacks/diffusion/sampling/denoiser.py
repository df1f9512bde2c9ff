"""The one denoiser interface every sampler calls (``nodepacks.diffusion.runtime.prepare_denoiser`` builds the
real one around a family's network; tests use :mod:`nodepacks.diffusion.sampling.analytic`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from nodepacks.diffusion.handles import LatentFormat, ModelSampling

if TYPE_CHECKING:  # pragma: no cover
    import torch


class Denoiser(Protocol):
    """``denoiser(x, sigma, conds) -> denoised``.

    ``x``: noisy latents in denoiser space (batch, channels, h, w); ``sigma``: one sigma per batch item;
    ``conds``: a CONDITIONING list whose every entry applies to the whole batch (the predictions of several
    entries are averaged, weighted by ``strength`` and ``mask``). An array field whose first dimension equals the
    batch holds one row per batch item (how the sampler batches the positive and negative prompts of CFG in one
    call); fields may already be tensors on ``device`` in ``dtype``, which the denoiser uses as they are.
    """

    sampling: ModelSampling
    latent_format: LatentFormat
    device: Any  # str or torch.device
    dtype: torch.dtype

    def __call__(
        self, x: torch.Tensor, sigma: torch.Tensor, conds: Sequence[Mapping[str, Any]]
    ) -> torch.Tensor:
        """The predicted clean latent, same shape as ``x``, float32."""
        ...
