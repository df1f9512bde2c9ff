"""The answer to a login refused by django-axes (too many failed attempts): 429 with when to retry."""

from __future__ import annotations

import math

from axes.helpers import get_cool_off
from django.http import HttpRequest, JsonResponse


def lockout_response(request: HttpRequest, *args: object) -> JsonResponse:
    """``{"detail", "errors": [], "retry_after": seconds}`` with a ``Retry-After`` header.

    Each refused attempt starts the cool-off again (AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT), so the
    whole cool-off is the honest wait. Axes calls this with (request, response, credentials) from sync code and
    (request, credentials) from async code; neither is needed here.
    """
    cool_off = get_cool_off(request)
    seconds = math.ceil(cool_off.total_seconds()) if cool_off else None
    if seconds is None:
        detail = (
            "Too many failed sign-in attempts: this account is locked. Ask an administrator to unlock it."
        )
    else:
        detail = (
            "Too many failed sign-in attempts for this username or from this address. "
            f"Try again in {_duration(seconds)}."
        )
    response = JsonResponse({"detail": detail, "errors": [], "retry_after": seconds}, status=429)
    if seconds is not None:
        response["Retry-After"] = str(seconds)
    return response


def _duration(seconds: int) -> str:
    minutes = math.ceil(seconds / 60)
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
