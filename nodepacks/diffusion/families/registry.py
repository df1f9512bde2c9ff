"""The model-family registry: the ``Family`` interface, and which registered family a weights file or folder
belongs to.

This module knows no concrete family: the built-in ones (``nodepacks.diffusion.families``' modules) and a pack's
own are registered into it with ``register_family``. The package ``nodepacks.diffusion.families`` imports this
module first, then its built-in families, and registers those; a family module imports only this module (and
``_common``), never the package, so imports run one way. Nothing here imports torch at module level.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nodepacks.diffusion.handles import (
    Cond,
    DiffusionError,
    LatentFormat,
    ModelSampling,
    TextEncoder,
    WeightsSource,
)

if TYPE_CHECKING:  # pragma: no cover
    import torch


class Family:
    """A model family: detection, loading and the network call. Subclasses set the class attributes."""

    name: str = ""
    display_name: str = ""
    latent_format: LatentFormat = LatentFormat(channels=4, scale_factor=0.18215)
    clip_roles: tuple[str, ...] = ("clip_l",)  # the text encoders this family conditions on, in loader order
    optional_roles: tuple[str, ...] = ()  # roles that may be missing (SD3's t5)
    input_packing: int = 1  # latent pixels per network input vector (Flux packs 2x2 patches: 4)
    # True when ``predict`` reads the conditioning's ``reference_latents`` (Flux Kontext); the denoiser refuses
    # them for any other family rather than ignore them.
    reference_latents: bool = False

    def default_sampling(self) -> ModelSampling:
        """The noise schedule the family was trained with."""
        raise NotImplementedError

    # -- detection ----------------------------------------------------------------------------------------------

    def detect_keys(self, keys: Collection[str]) -> bool:
        """True when a single file's keys hold this family's diffusion model (with or without the
        ``model.diffusion_model.`` prefix of a full checkpoint)."""
        raise NotImplementedError

    def detect_diffusers(self, model_index: dict[str, Any]) -> bool:
        """True when a diffusers folder's ``model_index.json`` is a pipeline of this family."""
        raise NotImplementedError

    def detect_file(self, keys: Collection[str], path: Path | None) -> bool:
        """``detect_keys`` with the file at hand, for families that tell themselves apart by tensor shapes (a
        bare SD2 UNet has SD1's key names); ``path`` is None when only the keys are known."""
        return self.detect_keys(keys)

    def detect_diffusers_folder(self, folder: Path, model_index: dict[str, Any]) -> bool:
        """``detect_diffusers`` with the folder at hand (SD1 and SD2 share a pipeline class)."""
        return self.detect_diffusers(model_index)

    def sampling_for(self, source: WeightsSource) -> ModelSampling:
        """The noise schedule of one weights source (a family whose files differ, eps or v, reads it here)."""
        return self.default_sampling()

    def text_sources(self, models: Any, sources: tuple[WeightsSource, ...]) -> tuple[WeightsSource, ...]:
        """``sources`` of a CLIP handle plus the files the text encoders also need (Flux's T5 tokenizer), found
        by the loader through ``models`` (the model library); ``DiffusionError`` when one is missing."""
        return sources

    # -- loading (torch) ----------------------------------------------------------------------------------------

    def load_diffusion_model(self, source: WeightsSource, device: str, dtype: torch.dtype) -> torch.nn.Module:
        """Build the denoising network and load its weights."""
        raise NotImplementedError

    def load_text_encoders(self, clip: TextEncoder, device: str, dtype: torch.dtype) -> Any:
        """Build the text encoder stack the family's ``encode_text`` uses."""
        raise NotImplementedError

    def load_vae(self, source: WeightsSource, device: str, dtype: torch.dtype) -> torch.nn.Module:
        """Build the autoencoder (a diffusers ``AutoencoderKL``) and load its weights."""
        raise NotImplementedError

    # -- running ------------------------------------------------------------------------------------------------

    def concat_input(self, cond: dict[str, Any], x: torch.Tensor, extra_channels: int) -> torch.Tensor | None:
        """The ``extra_channels`` input channels a network takes beyond the latent's (its ``in_channels`` say so),
        from the conditioning's ``concat_mask``/``concat_latent_image``, for the scaled input ``x``; None: the
        denoiser's own (an SD inpainting UNet's mask + masked image latent)."""
        return None

    def encode_text(self, stack: Any, text: str, layer: int | None) -> Cond:
        """Text -> one conditioning entry (numpy float32 arrays)."""
        raise NotImplementedError

    def predict(
        self, network: torch.nn.Module, x: torch.Tensor, timestep: torch.Tensor, cond: dict[str, Any]
    ) -> torch.Tensor:
        """The raw network output (eps, v or velocity) for the scaled input ``x`` at ``timestep``; ``cond`` holds
        the conditioning as tensors on the network's device, already repeated to ``x``'s batch."""
        raise NotImplementedError


_FAMILIES: list[Family] = []


def register_family(family: Family, *, first: bool = True) -> None:
    """Add a family; a family of the same name is replaced. ``first`` tries it before the families already known."""
    if not family.name:
        raise ValueError(f"{family!r} has no name")
    _FAMILIES[:] = [known for known in _FAMILIES if known.name != family.name]
    if first:
        _FAMILIES.insert(0, family)
    else:
        _FAMILIES.append(family)


def known_families() -> list[str]:
    """The names of the registered families."""
    return [family.name for family in _FAMILIES]


def get_family(name: str) -> Family:
    """The registered family called ``name``."""
    for family in _FAMILIES:
        if family.name == name:
            return family
    raise DiffusionError(f"unknown model family {name!r}; known families: {', '.join(known_families())}")


def detect_family(keys: Collection[str], *, source: str = "", path: str | Path | None = None) -> Family:
    """The family whose diffusion model a single file's keys hold; ``DiffusionError`` naming ``source`` and the
    known families when none claims it. ``path`` (the file) lets a family look at tensor shapes."""
    key_set = keys if isinstance(keys, set | frozenset) else frozenset(keys)
    file = Path(path) if path is not None else None
    for family in _FAMILIES:
        if family.detect_file(key_set, file):
            return family
    raise DiffusionError(
        f"{source or 'the weights'}: not a model of a known family (known: {', '.join(known_families())})"
    )


def detect_diffusers_family(folder: Path) -> Family:
    """The family of a diffusers pipeline folder, read from its ``model_index.json``."""
    index_path = folder / "model_index.json"
    try:
        model_index = json.loads(index_path.read_text())
    except FileNotFoundError:
        raise DiffusionError(f"{folder}: not a diffusers folder (no model_index.json)") from None
    except (OSError, ValueError) as exc:
        raise DiffusionError(f"{index_path}: cannot be read ({exc})") from None
    for family in _FAMILIES:
        if family.detect_diffusers_folder(folder, model_index):
            return family
    pipeline = model_index.get("_class_name", "?")
    raise DiffusionError(
        f"{folder}: diffusers pipeline {pipeline} is not of a known family (known: {', '.join(known_families())})"
    )
