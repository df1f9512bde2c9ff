"""Secrets clients put into ``extra_data`` (``api_key_comfy_org``, ``auth_token_comfy_org``, anything whose
name mentions a key, token, secret or password) are dropped before anything is stored, logged or echoed."""

from __future__ import annotations

import re
from typing import Any

SECRET_NAME = re.compile(r"key|token|secret|passw|credential", re.IGNORECASE)
REDACTED_DEPTH = 20


def is_secret_name(name: Any) -> bool:
    """True when a key's name says it holds a secret."""
    return isinstance(name, str) and SECRET_NAME.search(name) is not None


def sanitise_extra_data(value: Any, depth: int = 0) -> Any:
    """``value`` without any mapping entry whose name looks secret, at any depth (a copy)."""
    if depth > REDACTED_DEPTH:
        return None
    if isinstance(value, dict):
        return {
            key: sanitise_extra_data(item, depth + 1)
            for key, item in value.items()
            if not is_secret_name(key)
        }
    if isinstance(value, list):
        return [sanitise_extra_data(item, depth + 1) for item in value]
    return value
