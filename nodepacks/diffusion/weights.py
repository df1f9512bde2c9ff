"""Reading weights files: safetensors keys and tensors with errors that name the file, and diffusers folders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nodepacks.diffusion.handles import DiffusionError

if TYPE_CHECKING:  # pragma: no cover
    import torch

DIFFUSION_MODEL_PREFIX = "model.diffusion_model."
VAE_PREFIXES = ("first_stage_model.", "vae.")


def _check_file(path: Path) -> None:
    if not path.exists():
        raise DiffusionError(f"{path}: file not found")
    if path.suffix not in (".safetensors", ".sft"):
        raise DiffusionError(
            f"{path.name}: only .safetensors weights are loaded (pickled .ckpt/.pt files are not)"
        )


def read_keys(path: str | Path) -> list[str]:
    """The tensor names of a safetensors file (reads only its header)."""
    from safetensors import safe_open

    path = Path(path)
    _check_file(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            return list(handle.keys())
    except Exception as exc:  # safetensors raises its own error types for bad headers
        raise DiffusionError(
            f"{path.name}: not a readable .safetensors file, corrupt or truncated ({exc})"
        ) from None


def read_metadata(path: str | Path) -> dict[str, str]:
    """The ``__metadata__`` strings of a safetensors file."""
    from safetensors import safe_open

    path = Path(path)
    _check_file(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            return dict(handle.metadata() or {})
    except Exception as exc:
        raise DiffusionError(
            f"{path.name}: not a readable .safetensors file, corrupt or truncated ({exc})"
        ) from None


def load_tensors(
    path: str | Path, prefixes: tuple[str, ...] = ("",), *, strip: bool = True
) -> dict[str, torch.Tensor]:
    """The tensors whose names start with one of ``prefixes`` (the prefix removed when ``strip``)."""
    from safetensors import safe_open

    path = Path(path)
    _check_file(path)
    out: dict[str, torch.Tensor] = {}
    try:
        with safe_open(str(path), framework="pt") as handle:
            for key in handle.keys():  # noqa: SIM118 (safe_open is not iterable)
                for prefix in prefixes:
                    if key.startswith(prefix):
                        out[key[len(prefix) :] if strip else key] = handle.get_tensor(key)
                        break
    except DiffusionError:
        raise
    except Exception as exc:
        raise DiffusionError(
            f"{path.name}: not a readable .safetensors file, corrupt or truncated ({exc})"
        ) from None
    return out


def strip_prefix(keys: list[str] | set[str] | frozenset[str], prefix: str) -> set[str]:
    """``keys`` with ``prefix`` removed where present (a full checkpoint and a bare network look the same)."""
    return {key[len(prefix) :] if key.startswith(prefix) else key for key in keys}


def diffusers_subfolder(folder: Path, name: str) -> Path:
    """A component folder of a diffusers pipeline, or ``DiffusionError`` naming what is missing."""
    sub = folder / name
    if not (sub / "config.json").exists():
        raise DiffusionError(f"{folder}: diffusers folder has no {name}/config.json")
    return sub


def read_json(path: Path) -> dict[str, Any]:
    """A JSON file as a dict, or ``DiffusionError``."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DiffusionError(f"{path}: cannot be read ({exc})") from None
    if not isinstance(data, dict):
        raise DiffusionError(f"{path}: not a JSON object")
    return data


def config_path(*parts: str) -> Path:
    """A file under the pack's shipped ``configs`` folder."""
    return Path(__file__).parent.joinpath("configs", *parts)


def shipped_config(*parts: str) -> dict[str, Any]:
    """A shipped JSON config (the real model's architecture, overridden by what the weights show)."""
    return read_json(config_path(*parts))


def place(network: Any, device: str, dtype: Any) -> Any:
    """``network`` on ``device`` in ``dtype``, ready for inference (eval mode, no gradients).

    Casts only when the weights are in another dtype: diffusers' ``ModelMixin.to`` logs a warning on every call
    that names a dtype, which filled every load's output on the CPU (fp32 to fp32)."""
    network = network.to(device)
    first = next(network.parameters(), None)
    if first is not None and first.dtype != dtype:
        network = network.to(dtype=dtype)
    return network.eval().requires_grad_(False)
