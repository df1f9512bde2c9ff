"""Strict JSON at the API edge: what Python's ``json`` accepts but no API of ours should.

Python parses ``NaN``, ``Infinity`` and ``1e999`` (as infinity), integers of any length, and nests until the
interpreter's recursion limit (then a ``RecursionError``, a 500). Every JSON body, native or ``/comfy/``, is read
here instead, and each of those answers 400 naming the body and the limit.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework.parsers import JSONParser

# Integers beyond 2**64 (ComfyUI's largest seed is 2**64 - 1) are refused: no input of ours takes them.
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


def _out_of_range(value: int | float, field: str) -> Exception:
    if isinstance(value, float):
        return bad_json(f"the number {value} is out of range (numbers must be finite)", field)
    return bad_json(f"the integer {str(value)[:40]}... is too large (the limit is 2**64)", field)


def _check_values(value: Any, limit: int, field: str) -> None:
    """Raise when containers nest deeper than ``limit`` or a number is out of range: one walk over the parsed
    document (an explicit stack: linear, no recursion), cheaper than a Python hook per number while parsing."""
    if type(value) is not dict and type(value) is not list:
        if (type(value) is int and not -MAX_INTEGER <= value <= MAX_INTEGER) or (
            type(value) is float and not math.isfinite(value)
        ):
            raise _out_of_range(value, field)
        return
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            message = f"JSON nested deeper than {limit} levels (the limit, FLOWYARD_MAX_JSON_DEPTH)"
            raise bad_json(message, field)
        for child in item.values() if type(item) is dict else item:
            kind = type(child)
            if kind is dict or kind is list:
                stack.append((child, depth + 1))
            elif kind is int:
                if not -MAX_INTEGER <= child <= MAX_INTEGER:
                    raise _out_of_range(child, field)
            elif kind is float and not math.isfinite(child):  # 1e999 parses as infinity
                raise _out_of_range(child, field)


def loads_strict(raw: bytes | str, field: str = "body") -> Any:
    """The JSON value of ``raw``, or ``ApiError`` (400) naming ``field`` and the problem."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise bad_json("not UTF-8 text", field) from None
    try:
        value = json.loads(text, parse_constant=_constant)
    except RecursionError:
        raise bad_json(f"JSON nested deeper than {max_json_depth()} levels (the limit)", field) from None
    except ValueError as exc:
        if "integer string conversion" in str(exc):  # over Python's 4,300 digits
            raise bad_json("an integer is too large (the limit is 2**64)", field) from None
        raise bad_json(f"malformed JSON ({exc})", field) from None
    _check_values(value, max_json_depth(), field)
    return value


class StrictJSONParser(JSONParser):
    """DRF's JSON parser with ``loads_strict``: every malformed or out-of-range body answers 400 JSON."""

    def parse(
        self,
        stream: IO[Any] | None,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        raw = stream.read() if stream is not None else b""
        if not raw:
            raise bad_json("empty body; send a JSON object")
        return loads_strict(raw)
