"""Model-library files -> weights sources and handles, with errors that name the node input."""

from __future__ import annotations

from pathlib import Path

from nodepacks import sdk
from nodepacks.diffusion.families import Family, detect_diffusers_family, detect_family, get_family
from nodepacks.diffusion.handles import DiffusionError, DiffusionModel, TextEncoder, VAEModel, WeightsSource
from nodepacks.diffusion.weights import read_keys


def resolve(models: sdk.ModelProvider, kind: str, name: str, input_name: str) -> tuple[Path, str]:
    """(path, content hash) of library file ``name`` in folder ``kind``; errors name the input."""
    if not name:
        raise DiffusionError(f"{input_name}: no {kind} file chosen")
    try:
        path = Path(models.file(kind, name))
        if not path.exists():
            raise DiffusionError(f"{kind}/{name} is missing ({path} does not exist)")
        return path, models.sha256(kind, name)
    except sdk.NodeError as exc:
        raise DiffusionError(f"{input_name}: {exc}") from None
    except OSError as exc:
        raise DiffusionError(f"{input_name}: {kind}/{name} cannot be read ({exc})") from None


def open_checkpoint(path: Path, sha256: str, input_name: str) -> tuple[Family, WeightsSource]:
    """The family and weights source of a full checkpoint file or diffusers folder."""
    try:
        if path.is_dir():
            return detect_diffusers_family(path), WeightsSource(str(path), "diffusers", sha256)
        keys = read_keys(path)
        family = detect_family(keys, source=path.name, path=path)
    except DiffusionError as exc:
        raise DiffusionError(f"{input_name}: {exc}") from None
    return family, WeightsSource(str(path), "checkpoint", sha256)


def model_handle(family: Family, source: WeightsSource) -> DiffusionModel:
    """``MODEL`` for a weights source of ``family``."""
    return DiffusionModel(
        family=family.name,
        identity=source.sha256,
        source=Path(source.path).name,
        sampling=family.sampling_for(source),
        latent_format=family.latent_format,
        weights=source,
    )


def clip_handle(family: Family, *sources: WeightsSource) -> TextEncoder:
    return TextEncoder(family=family.name, sources=tuple(sources))


def vae_handle(family: Family, source: WeightsSource) -> VAEModel:
    return VAEModel(family=family.name, source=source, latent_format=family.latent_format)


def vae_family_of(path: Path, input_name: str) -> Family:
    """A standalone VAE file's family, from its latent channel count (4: SD1.x-style, 16: SD3)."""
    from safetensors import safe_open

    keys = read_keys(path)
    for key in (
        "decoder.conv_in.weight",
        "first_stage_model.decoder.conv_in.weight",
        "vae.decoder.conv_in.weight",
    ):
        if key in keys:
            with safe_open(str(path), framework="pt") as handle:
                channels = int(handle.get_slice(key).get_shape()[1])
            return get_family("sd3" if channels == 16 else "sd1")
    raise DiffusionError(f"{input_name}: {path.name} holds no VAE decoder")
