"""Classifier-free guidance over the denoiser: ``guided(x, sigma) -> denoised`` for one sampling run.

``uncond + cfg * (cond - uncond)`` as ComfyUI computes it. The positive and negative predictions come from one
forward pass of a doubled batch when each side has one active entry of the same shapes (the usual case), and
from two passes otherwise; with ``cfg == 1`` the negative prompt is not evaluated at all. Entries outside their
``start_percent``/``end_percent`` range are skipped; when several entries of one side are active the denoiser
averages them by strength and mask (ComfyUI's ConditioningCombine). Everything that does not change between
steps (tensors of the conditioning, sigma batches, which entries are active at which sigma) is prepared once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from nodepacks.diffusion.sampling.denoiser import Denoiser

if TYPE_CHECKING:  # pragma: no cover
    import torch

_RANGE_KEYS = ("start_percent", "end_percent")


class _Entry:
    """One conditioning entry ready for the denoiser: arrays as tensors on its device, its sigma range."""

    def __init__(self, cond: Mapping[str, Any], denoiser: Denoiser, batch: int):
        import torch

        sampling = denoiser.sampling
        self.sigma_start = sampling.percent_to_sigma(float(cond.get("start_percent", 0.0)))
        self.sigma_end = sampling.percent_to_sigma(float(cond.get("end_percent", 1.0)))
        self.fields: dict[str, Any] = {}
        for name, value in cond.items():
            if name in _RANGE_KEYS:
                continue
            if (
                isinstance(value, np.ndarray)
                and name != "mask"
                and value.dtype.kind == "f"
                and value.ndim >= 1
            ):
                tensor = torch.from_numpy(np.ascontiguousarray(value)).to(denoiser.device, denoiser.dtype)
                if tensor.shape[0] != batch:
                    tensor = tensor[:1].expand(batch, *tensor.shape[1:])
                self.fields[name] = tensor
            else:
                self.fields[name] = value

    def active(self, sigma: float) -> bool:
        return self.sigma_end <= sigma <= self.sigma_start

    def mergeable(self, other: _Entry) -> bool:
        """True when the two entries can run as one doubled batch (same fields, shapes and settings)."""
        if self.fields.keys() != other.fields.keys() or "mask" in self.fields:
            return False
        for name, value in self.fields.items():
            theirs = other.fields[name]
            if hasattr(value, "shape") or hasattr(theirs, "shape"):
                if getattr(value, "shape", None) != getattr(theirs, "shape", None):
                    return False
            elif value != theirs:
                return False
        return True


def _merge(first: _Entry, second: _Entry) -> dict[str, Any]:
    import torch

    merged: dict[str, Any] = {}
    for name, value in first.fields.items():
        if isinstance(value, torch.Tensor):
            merged[name] = torch.cat([value, second.fields[name]])
        else:
            merged[name] = value
    return merged


class Guided:
    """The CFG-guided model of one run: ``guided(x, sigma) -> denoised`` with ``x`` of the run's batch size."""

    def __init__(
        self,
        denoiser: Denoiser,
        positive: Sequence[Mapping[str, Any]],
        negative: Sequence[Mapping[str, Any]] | None,
        cfg: float,
        batch: int,
        check_cancelled: Callable[[], None] | None = None,
    ):
        self.denoiser = denoiser
        self.cfg = float(cfg)
        self.batch = batch
        self.check_cancelled = check_cancelled
        self.positive = [_Entry(c, denoiser, batch) for c in positive]
        skip_negative = negative is None or math.isclose(self.cfg, 1.0)
        self.negative = [] if skip_negative else [_Entry(c, denoiser, batch) for c in negative or ()]
        self.uses_negative = not skip_negative
        self._sigma_batches: dict[tuple[float, int], torch.Tensor] = {}
        self._plans: dict[
            float, tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any] | None]
        ] = {}
        self._merged: dict[tuple[int, int], dict[str, Any]] = {}

    def sigma_batch(self, sigma: float, size: int) -> torch.Tensor:
        """One ``sigma`` per batch item, made once per (sigma, size)."""
        key = (sigma, size)
        tensor = self._sigma_batches.get(key)
        if tensor is None:
            import torch

            tensor = torch.full((size,), sigma, dtype=torch.float32, device=self.denoiser.device)
            self._sigma_batches[key] = tensor
        return tensor

    def _plan(self, sigma: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any] | None]:
        plan = self._plans.get(sigma)
        if plan is None:
            positive = [e for e in self.positive if e.active(sigma)]
            negative = [e for e in self.negative if e.active(sigma)]
            merged = None
            if len(positive) == 1 and len(negative) == 1 and positive[0].mergeable(negative[0]):
                key = (id(positive[0]), id(negative[0]))
                merged = self._merged.get(key)
                if merged is None:
                    merged = self._merged[key] = _merge(positive[0], negative[0])
            plan = ([e.fields for e in positive], [e.fields for e in negative], merged)
            self._plans[sigma] = plan
        return plan

    def __call__(self, x: torch.Tensor, sigma: float) -> torch.Tensor:
        import torch

        if self.check_cancelled is not None:
            self.check_cancelled()
        positive, negative, merged = self._plan(sigma)
        n = x.shape[0]
        if not self.uses_negative:
            return self._side(x, sigma, positive)
        if merged is not None:
            both = self.denoiser(torch.cat([x, x]), self.sigma_batch(sigma, 2 * n), [merged])
            cond, uncond = both[:n], both[n:]
        else:
            cond = self._side(x, sigma, positive)
            uncond = self._side(x, sigma, negative)
        return torch.lerp(uncond, cond, self.cfg)

    def _side(self, x: torch.Tensor, sigma: float, conds: list[dict[str, Any]]) -> torch.Tensor:
        if not conds:  # no entry active at this sigma: ComfyUI's prediction is zero
            import torch

            return torch.zeros_like(x)
        return self.denoiser(x, self.sigma_batch(sigma, x.shape[0]), conds)
