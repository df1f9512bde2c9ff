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

from nodepacks.diffusion.controlnet import share_with_uncond
from nodepacks.diffusion.handles import Cond
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
            elif isinstance(value, list | tuple) or isinstance(theirs, list | tuple):
                if not _same_items(value, theirs):  # reference latents: one copy serves both halves
                    return False
            elif value != theirs:
                return False
        return True


def _same_items(first: Any, second: Any) -> bool:
    """True when two list fields (arrays among them) hold the same values."""
    if not isinstance(first, list | tuple) or not isinstance(second, list | tuple):
        return False
    if len(first) != len(second):
        return False
    for a, b in zip(first, second, strict=True):
        if a is b:
            continue
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and np.array_equal(a, b)):
                return False
        elif isinstance(a, dict) and isinstance(b, dict):  # a ControlNet of the chain: its hint is an array
            if a.keys() != b.keys() or not _same_items(list(a.values()), list(b.values())):
                return False
        elif a != b:
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
        *,
        options: Mapping[str, Any] | None = None,
        dual: DualCFG | None = None,
    ):
        self.denoiser = denoiser
        self.options = dict(options or {})
        self.dual = dual
        self.middle = [] if dual is None else [_Entry(c, denoiser, batch) for c in dual.middle]
        self.cfg = float(cfg)
        self.batch = batch
        self.check_cancelled = check_cancelled
        self.positive = [_Entry(c, denoiser, batch) for c in positive]
        if negative is not None:  # the old ControlNetApply's control also steers the negative prompt
            negative = share_with_uncond(positive, negative)
        skip_negative = negative is None or (math.isclose(self.cfg, 1.0) and dual is None)
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
            cond = self._side(x, sigma, positive)
            if not self.options.get("post_cfg"):
                return cond
            return _post_cfg(self.options["post_cfg"], x, cond, torch.zeros_like(cond), cond, self.cfg)
        if merged is not None:
            both = self.denoiser(torch.cat([x, x]), self.sigma_batch(sigma, 2 * n), [merged])
            cond, uncond = both[:n], both[n:]
        else:
            cond = self._side(x, sigma, positive)
            uncond = self._side(x, sigma, negative)
        if self.dual is not None:
            middle = self._side(x, sigma, [e.fields for e in self.middle if e.active(sigma)])
            denoised = self.dual.combine(cond, middle, uncond, self.cfg)
            uncond_for_post = uncond
        elif "rescale_cfg" in self.options:
            denoised = rescale_cfg(x, sigma, cond, uncond, self.cfg, float(self.options["rescale_cfg"]))
            uncond_for_post = uncond
        else:
            denoised = torch.lerp(uncond, cond, self.cfg)
            uncond_for_post = uncond
        if self.options.get("post_cfg"):
            denoised = _post_cfg(self.options["post_cfg"], x, cond, uncond_for_post, denoised, self.cfg)
        return denoised

    def _side(self, x: torch.Tensor, sigma: float, conds: list[dict[str, Any]]) -> torch.Tensor:
        if not conds:  # no entry active at this sigma: ComfyUI's prediction is zero
            import torch

            return torch.zeros_like(x)
        return self.denoiser(x, self.sigma_batch(sigma, x.shape[0]), conds)


# -- guider variants and model patches (ComfyUI's DualCFGGuider, RescaleCFG, CFGNorm, CFGZeroStar) -------------


class DualCFG:
    """ComfyUI's DualCFGGuider: ``cond1`` (the positive), ``cond2`` (the middle) and the negative, with
    ``regular``: ``neg + cfg2 (cond2 - neg) + cfg1 (cond1 - cond2)`` or ``nested``:
    ``neg + cfg2 ((cond2 + cfg1 (cond1 - cond2)) - neg)``; ``cfg1`` is the run's cfg."""

    def __init__(self, middle: Sequence[Cond], cfg2: float, style: str = "regular"):
        if style not in ("regular", "nested"):
            raise ValueError(f"unknown DualCFGGuider style {style!r}: regular or nested")
        self.middle = list(middle)
        self.cfg2 = float(cfg2)
        self.style = style

    def combine(
        self, cond1: torch.Tensor, cond2: torch.Tensor, negative: torch.Tensor, cfg1: float
    ) -> torch.Tensor:
        if self.style == "nested":
            inner = cond2 + (cond1 - cond2) * cfg1
            return negative + (inner - negative) * self.cfg2
        return negative + (cond2 - negative) * self.cfg2 + (cond1 - cond2) * cfg1


def rescale_cfg(
    x: torch.Tensor, sigma: float, cond: torch.Tensor, uncond: torch.Tensor, cfg: float, multiplier: float
) -> torch.Tensor:
    """RescaleCFG (Lin et al. 2023, "Common Diffusion Noise Schedules and Sample Steps are Flawed"): CFG on the
    v-predictions, whose per-item standard deviation is then matched to the positive prediction's and blended
    with plain CFG by ``multiplier``; back to a denoised prediction. (ComfyUI applies the same eps/v
    conversion to every family.)"""
    scale: float = (sigma**2 + 1.0) ** 0.5
    x_in = x / (sigma**2 + 1.0)

    def to_v(denoised: torch.Tensor) -> torch.Tensor:
        return (x_in - denoised) * (scale / sigma)

    v_cond, v_uncond = to_v(cond), to_v(uncond)
    v_cfg = v_uncond + (v_cond - v_uncond) * cfg
    dims = tuple(range(1, v_cfg.ndim))
    ratio = v_cond.std(dim=dims, keepdim=True) / v_cfg.std(dim=dims, keepdim=True)
    v_final = v_cfg * (ratio * multiplier + (1.0 - multiplier))
    return x_in - v_final * (sigma / scale)


def _post_cfg(
    functions: Sequence[tuple[Any, ...]],
    x: torch.Tensor,
    cond: torch.Tensor,
    uncond: torch.Tensor,
    denoised: torch.Tensor,
    cfg: float,
) -> torch.Tensor:
    """The model's post-CFG patches, in the order they were added (each sees the previous one's result)."""
    for kind, *args in functions:
        if kind == "cfg_norm":
            # CFGNorm: shrink the guided prediction's per-pixel channel norm to at most the positive one's.
            cond_norm = cond.norm(dim=1, keepdim=True)
            guided_norm = denoised.norm(dim=1, keepdim=True)
            denoised = denoised * (cond_norm / (guided_norm + 1e-8)).clamp(0.0, 1.0) * float(args[0])
        elif kind == "cfg_zero_star":
            # CFG-Zero*: scale the negative by the least-squares fit of the positive's noise onto the
            # negative's, i.e. alpha * uncond + cfg * (cond - alpha * uncond).
            pos = (x - cond).reshape(x.shape[0], -1)
            neg = (x - uncond).reshape(x.shape[0], -1)
            alpha = (pos * neg).sum(dim=1) / ((neg**2).sum(dim=1) + 1e-8)
            alpha = alpha.reshape(-1, *([1] * (x.ndim - 1)))
            denoised = denoised + uncond * (alpha - 1.0) + uncond * (cfg * (1.0 - alpha))
        else:
            raise ValueError(f"unknown post-CFG patch {kind!r}")
    return denoised
