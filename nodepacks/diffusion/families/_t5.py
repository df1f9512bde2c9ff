"""T5-XXL text encoding shared by the families that use it (Flux always, SD3 when a tokenizer is found).

The encoder is transformers' ``T5EncoderModel`` with its architecture read from the weights. No T5 tokenizer ships
with the pack: ``find_t5_tokenizer`` looks for ``tokenizer.json`` or ``spiece.model`` next to the T5 weights, then
in the model library's ``text_encoders/t5_tokenizer/`` folder.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nodepacks import sdk
from nodepacks.diffusion.families import _common as common
from nodepacks.diffusion.families._common import _count
from nodepacks.diffusion.handles import DiffusionError, WeightsSource
from nodepacks.diffusion.weights import load_tensors, read_keys

if TYPE_CHECKING:  # pragma: no cover
    import torch

T5_DETECT_SUFFIX = "block.0.layer.0.SelfAttention.q.weight"
T5_TOKENIZER_FILES = ("tokenizer.json", "spiece.model")
T5_TOKENIZER_FOLDER = "t5_tokenizer"  # in the library's text_encoders folder
T5_PAD, T5_END = 0, 1


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def find_t5_tokenizer(models: sdk.ModelProvider, weights: Path) -> WeightsSource:
    """The T5 tokenizer file for T5 weights at ``weights`` (a text encoder file or a whole checkpoint): a
    ``tokenizer.json`` or ``spiece.model`` next to it, else in the library's ``text_encoders/t5_tokenizer/``."""
    for name in T5_TOKENIZER_FILES:
        beside = weights.parent / name
        if beside.is_file():
            return WeightsSource(str(beside), "text_encoder", _file_sha256(beside), role="t5_tokenizer")
    for name in T5_TOKENIZER_FILES:
        try:
            path = Path(models.file("text_encoders", f"{T5_TOKENIZER_FOLDER}/{name}"))
            sha256 = models.sha256("text_encoders", f"{T5_TOKENIZER_FOLDER}/{name}")
        except (sdk.NodeError, OSError):
            continue
        return WeightsSource(str(path), "text_encoder", sha256, role="t5_tokenizer")
    raise DiffusionError(
        f"no T5 tokenizer for {weights.name}: put tokenizer.json or spiece.model (the tokenizer of "
        f"google/t5-v1_1-xxl) next to it in {weights.parent} or in the model library's "
        f"text_encoders/{T5_TOKENIZER_FOLDER}/ folder"
    )


def diffusers_t5_tokenizer(folder: Path, subfolder: str) -> Path | None:
    """A diffusers folder's T5 tokenizer file in ``subfolder`` (``tokenizer_2`` for Flux), None when absent."""
    return next(
        (folder / subfolder / n for n in T5_TOKENIZER_FILES if (folder / subfolder / n).is_file()), None
    )


class T5Tokens:
    """Text -> T5 ids ending with the end token, padded with 0 to ``min_tokens``, from a tokenizer.json or
    spiece.model."""

    def __init__(self, path: Path, min_tokens: int):
        self.path = path
        self.min_tokens = min_tokens
        try:
            if path.suffix == ".json":
                from tokenizers import Tokenizer

                self._fast: Any = Tokenizer.from_file(str(path))
                self._spm: Any = None
            else:
                import sentencepiece

                self._fast = None
                self._spm = sentencepiece.SentencePieceProcessor(model_file=str(path))
        except Exception as exc:  # both libraries raise their own error types for bad files
            raise DiffusionError(f"{path}: not a readable T5 tokenizer ({exc})") from None

    def __call__(self, text: str) -> list[int]:
        ids = list(self._fast.encode(text).ids) if self._fast is not None else list(self._spm.encode(text))
        while ids and ids[-1] in (T5_END, T5_PAD):  # the tokenizer's own end token, if it adds one
            ids.pop()
        ids.append(T5_END)
        return ids + [T5_PAD] * max(0, self.min_tokens - len(ids))


def encode_t5(model: Any, tokens: T5Tokens, text: str) -> torch.Tensor:
    """T5's last hidden state (1, tokens, d_model) of ``text``."""
    import torch

    ids = torch.tensor([tokens(text)], device=model.device)
    if int(ids.max()) >= model.config.vocab_size:
        raise DiffusionError(
            f"the T5 tokenizer gives ids up to {int(ids.max())} but the T5 weights have "
            f"{model.config.vocab_size}: the tokenizer is not this model's"
        )
    with torch.inference_mode():
        hidden: torch.Tensor = model(input_ids=ids).last_hidden_state
    return hidden


def t5_config_from_weights(state: dict[str, torch.Tensor], base: dict[str, Any]) -> Any:
    """A transformers T5Config for T5 encoder weights in HF names (``shared``/``encoder.block.*``)."""
    from transformers import T5Config

    vocab, width = state["shared.weight"].shape
    inner = int(state["encoder.block.0.layer.0.SelfAttention.q.weight"].shape[0])
    heads = int(state["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"].shape[1])
    values = {k: v for k, v in base.items() if k != "architectures"}
    gated = "encoder.block.0.layer.1.DenseReluDense.wi_0.weight" in state
    ff_key = "wi_0" if gated else "wi"
    values.update(
        vocab_size=int(vocab),
        d_model=int(width),
        num_heads=heads,
        d_kv=inner // heads,
        d_ff=int(state[f"encoder.block.0.layer.1.DenseReluDense.{ff_key}.weight"].shape[0]),
        num_layers=_count(state, r"encoder\.block\.(\d+)\."),
        relative_attention_num_buckets=int(
            state["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"].shape[0]
        ),
        feed_forward_proj=base.get("feed_forward_proj", "gated-gelu") if gated else "relu",
    )
    return T5Config(**values)


def load_t5_state(state: dict[str, torch.Tensor], base: dict[str, Any], name: str) -> Any:
    """A T5EncoderModel from HF-named T5 weights (the embedding under ``shared`` or ``encoder.embed_tokens``)."""
    from transformers import T5EncoderModel

    state = dict(state)
    embedding = state.get("shared.weight", state.get("encoder.embed_tokens.weight"))
    if embedding is None or "encoder.block.0.layer.0.SelfAttention.q.weight" not in state:
        raise DiffusionError(f"{name}: holds no T5 text encoder")
    state["shared.weight"] = state["encoder.embed_tokens.weight"] = embedding
    model = common.build(T5EncoderModel, t5_config_from_weights(state, base), state, name, "text encoder t5")
    model.encoder.embed_tokens = model.shared
    return model


def t5_prefix(keys: Collection[str]) -> str | None:
    """The prefix under which a file holds T5 encoder weights, None when it holds none."""
    for key in keys:
        if key.endswith(T5_DETECT_SUFFIX) and ".encoder." in f".{key}":
            return key[: key.index("encoder.block.")]
    return None


def t5_state(source: WeightsSource, checkpoint_prefix: str) -> dict[str, torch.Tensor]:
    """The T5 weights of ``source``: a checkpoint's under ``checkpoint_prefix``, or a T5 file's (any prefix)."""
    name = Path(source.path).name
    if source.layout == "checkpoint":
        state = load_tensors(source.path, (checkpoint_prefix,))
        if not state:
            raise DiffusionError(f"{name}: the checkpoint holds no T5 text encoder")
        return state
    prefix = t5_prefix(read_keys(source.path))
    if prefix is None:
        raise DiffusionError(f"{name}: not a T5 text encoder file")
    return load_tensors(source.path, (prefix,)) if prefix else load_tensors(source.path)
