"""JSON text by an encoder made once: ``json.dumps`` (and ``JSONEncoder.encode``) build CPython's C encoder again at
every call, a cost that shows when the recorder and the cache index write thousands of small values a second.

``json_texter(...)`` returns a function whose text is ``json.dumps(value, separators=..., default=...,
allow_nan=...)``'s, with ``ensure_ascii`` on and no check for reference cycles (a cyclic value raises
RecursionError instead of ValueError; it is not written either way). A Python without the C accelerator gets
``JSONEncoder.encode``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any


def json_texter(
    *,
    separators: tuple[str, str] = (", ", ": "),
    default: Callable[[Any], Any] | None = None,
    allow_nan: bool = True,
) -> Callable[[Any], str]:
    """A function writing ``json.dumps(value, separators=separators, default=default, allow_nan=allow_nan)``."""
    encoder = json.JSONEncoder(
        separators=separators, default=default, allow_nan=allow_nan, check_circular=False
    )
    if c_make_encoder is None:
        return encoder.encode
    item_separator, key_separator = separators
    chunks = c_make_encoder(
        None,
        encoder.default,
        encode_basestring_ascii,
        None,
        key_separator,
        item_separator,
        False,
        False,
        allow_nan,
    )
    return lambda value: "".join(chunks(value, 0))
