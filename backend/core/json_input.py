"""Strict JSON at the API edge: what Python's ``json`` accepts but no API of ours should.

Python parses ``NaN``, ``Infinity`` and ``1e999`` (as infinity), integers of any length, and nests until the
interpreter's recursion limit (then a ``RecursionError``, a 500). Every JSON body, native or ``/comfy/``, is read
here instead, and each of those answers 400 naming the body and the limit.
"""

from __future__ import annotations

import json
import math
from typing import Any

from django.conf import settings
from rest_framework.parsers import JSONParser

# Integers beyond 2**64 (ComfyUI's largest seed is 2**64 - 1) are refused: no input of ours takes them.
MAX_INTEGER_DIGITS = 20
MAX_INTEGER = 2**64


def max_json_depth() -> int:
    """How deep arrays and objects may nest in a request body (``FLOWYARD_MAX_JSON_DEPTH``)."""
    return int(getattr(settings, "FLOWYARD_MAX_JSON_DEPTH", 64))


def bad_json(message: str, field: str = "body") -> Exception:
    """A 400 ``ApiError`` naming the field (``body`` for the document as a whole) and what was wrong."""
    # Imported here: DRF's settings import this module while backend.accounts.exceptions imports DRF.
    from backend.accounts.exceptions import ApiError

    return ApiError(f"{field}: {message}", [{"field": field, "message": message}])


def _constant(name: str) -> Any:
    raise bad_json(f"{name} is not a JSON number; numbers must be finite")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise bad_json(f"the number {text[:40]} is out of range (numbers must be finite)")
    return value


def _int(text: str) -> int:
    digits = text.lstrip("-")
    if len(digits) > MAX_INTEGER_DIGITS or abs(int(text)) > MAX_INTEGER:
        raise bad_json(f"the integer {text[:40]}... is too large (the limit is 2**64)")
    return int(text)


def _check_depth(value: Any, limit: int) -> None:
    """Raise when containers nest deeper than ``limit`` (an explicit stack: linear, no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            raise bad_json(f"JSON nested deeper than {limit} levels (the limit, FLOWYARD_MAX_JSON_DEPTH)")
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def loads_strict(raw: bytes | str, field: str = "body") -> Any:
    """The JSON value of ``raw``, or ``ApiError`` (400) naming ``field`` and the problem."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise bad_json("not UTF-8 text", field) from None
    try:
        value = json.loads(text, parse_constant=_constant, parse_float=_float, parse_int=_int)
    except RecursionError:
        raise bad_json(f"JSON nested deeper than {max_json_depth()} levels (the limit)", field) from None
    except ValueError as exc:
        raise bad_json(f"malformed JSON ({exc})", field) from None
    _check_depth(value, max_json_depth())
    return value


class StrictJSONParser(JSONParser):
    """DRF's JSON parser with ``loads_strict``: every malformed or out-of-range body answers 400 JSON."""

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        if not raw:
            raise bad_json("empty body; send a JSON object")
        return loads_strict(raw)
