"""The CLIP tokenizer, built offline from the BPE vocabulary that ships in ``configs/tokenizers``.

CLIP's vocabulary is the 256 byte symbols, the same with the end-of-word marker ``</w>``, one entry per BPE merge
and the two special tokens; ``transformers``' CLIPTokenizer reads it as ``vocab.json`` + ``merges.txt``, which are
built in memory once per process.
"""

from __future__ import annotations

import functools
import gzip
from typing import Any

from nodepacks.diffusion.weights import config_path

BOS = 49406
EOS = 49407
CONTEXT = 77
_MERGES = 49152 - 256 - 2  # the number of merges OpenAI's CLIP uses from the file


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible byte -> printable character table."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in chars), strict=True))


@functools.cache
def _vocab() -> tuple[dict[str, int], list[tuple[str, str]]]:
    with gzip.open(
        config_path("tokenizers", "bpe_simple_vocab_16e6.txt.gz"), "rt", encoding="utf-8"
    ) as handle:
        lines = handle.read().split("\n")
    merges = [(first, second) for first, second in (line.split() for line in lines[1 : _MERGES + 1])]
    symbols = list(_bytes_to_unicode().values())
    vocab = symbols + [symbol + "</w>" for symbol in symbols]
    vocab += [first + second for first, second in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    return {token: index for index, token in enumerate(vocab)}, merges


@functools.cache
def clip_tokenizer() -> Any:
    """A transformers CLIPTokenizer over CLIP's vocabulary (no hub access)."""
    from transformers import CLIPTokenizer

    vocab, merges = _vocab()
    return CLIPTokenizer(vocab=vocab, merges=merges)  # type: ignore[arg-type]  # tokenizers takes pairs


def clip_token_chunks(text: str, *, pad_token: int = EOS) -> list[list[int]]:
    """``text`` as windows of 77 ids (BOS, up to 75 tokens, EOS, padding), ComfyUI's way of taking long prompts."""
    ids = clip_tokenizer()(text, add_special_tokens=False)["input_ids"]
    body = CONTEXT - 2
    chunks = [ids[start : start + body] for start in range(0, len(ids), body)] or [[]]
    return [[BOS, *chunk, EOS] + [pad_token] * (body - len(chunk)) for chunk in chunks]
