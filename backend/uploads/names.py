"""Upload names: what a graph's upload widget holds, so they are plain, printable, single-segment names."""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Collection

from backend.uploads.models import NAME_MAX_LENGTH

_SEPARATORS = re.compile(r"[/\\]+")
_SPACES = re.compile(r"\s+")
DEFAULT_STEM = "upload"


def sanitize_name(raw: str, default_extension: str = "") -> str:
    """Return ``raw`` made safe as an upload name: no path separators, no control or format characters,
    single spaces, at most ``NAME_MAX_LENGTH`` characters (the extension is kept when shortening)."""
    name = unicodedata.normalize("NFC", raw or "")
    # Control and format characters (Cc, Cf: NUL, newlines, bidi overrides, zero-width) and unassigned ones.
    name = "".join(ch for ch in name if not unicodedata.category(ch).startswith("C"))
    name = _SEPARATORS.sub("_", name)
    name = _SPACES.sub(" ", name).strip().strip(".").strip()
    if not name or not os.path.splitext(name)[0]:
        name = DEFAULT_STEM + (os.path.splitext(name)[1] if name else default_extension)
    return fit_name(name)


def fit_name(name: str, suffix: str = "") -> str:
    """Return ``name`` with ``suffix`` added before its extension, shortened to ``NAME_MAX_LENGTH``."""
    stem, extension = os.path.splitext(name)
    if len(extension) > 20:  # not an extension worth keeping whole
        stem, extension = name, ""
    room = NAME_MAX_LENGTH - len(extension) - len(suffix)
    return stem[:room].rstrip() + suffix + extension


def unique_name(name: str, taken: Collection[str]) -> str:
    """Return ``name``, or the first of ``name (1).ext``, ``name (2).ext``... not in ``taken`` (as ComfyUI)."""
    if name not in taken:
        return name
    number = 1
    while (candidate := fit_name(name, f" ({number})")) in taken:
        number += 1
    return candidate


def clash_filter(name: str) -> dict[str, str]:
    """Queryset filter keywords selecting every name ``unique_name`` could compare ``name`` against."""
    stem, extension = os.path.splitext(name)
    if len(extension) > 20:
        stem, extension = name, ""
    return {"name__startswith": stem[: NAME_MAX_LENGTH // 2], "name__endswith": extension}
