"""Refusing cross-site requests that ride on browser credentials.

The ComfyUI routes are CSRF-exempt for Django (scripts post JSON with a token and no CSRF cookie), so the
routes check here instead, but only when the caller signed in with a credential a browser attaches by itself:
the session cookie or HTTP Basic (browsers remember Basic credentials and resend them to any page's request).
A token in a header, the query or the path is never ambient, so scripts using one need nothing more.

A state-changing request with browser credentials passes when, first match wins:

1. ``Sec-Fetch-Site: cross-site``: refused (the browser itself says another site sent it);
2. ``Sec-Fetch-Site: same-origin``: passes (only browsers set it, and only for our own pages);
3. an ``Origin`` header: passes when it is this site (scheme and host) or in ``CSRF_TRUSTED_ORIGINS``, else
   refused; ``Origin: null`` (sandboxed frames, redirects) is refused;
4. a ``Referer`` header: the same test on its scheme and host;
5. a valid Django CSRF token (``X-CSRFToken`` header or ``csrfmiddlewaretoken`` field with the CSRF cookie),
   checked by Django's own middleware;
6. HTTP Basic with neither ``Origin`` nor any ``Sec-Fetch-Site``: passes, as a script's request (browsers send
   ``Origin`` with every cross-site POST); a session cookie without any of the above is refused.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.http import is_same_domain
from rest_framework.authentication import CSRFCheck

from backend.compat.auth import SAFE_METHODS, Caller


class CrossSiteRefused(Exception):
    """A browser-credentialed request that may come from another site (answered 403, naming the reason)."""


def _no_response(request: HttpRequest) -> HttpResponse:
    # The middleware instances here only check; no view behind them is ever called.
    return HttpResponse(status=204)


def origin_is_site(origin: str, host: str, secure: bool) -> bool:
    """True when ``origin`` (``scheme://host[:port]``) is this site or one of ``CSRF_TRUSTED_ORIGINS``; the same
    test as Django's CSRF middleware applies to the ``Origin`` header."""
    if origin == f"{'https' if secure else 'http'}://{host}":
        return True
    trusted = CsrfViewMiddleware(_no_response)
    if origin in trusted.allowed_origins_exact:
        return True
    try:
        parsed = urlsplit(origin)
    except ValueError:
        return False
    return any(
        is_same_domain(parsed.netloc, allowed)
        for allowed in trusted.allowed_origin_subdomains.get(parsed.scheme, ())
    )


def _referer_origin(referer: str) -> str:
    try:
        parsed = urlsplit(referer)
    except ValueError:
        return ""
    return f"{parsed.scheme}://{parsed.netloc}" if parsed.scheme and parsed.netloc else ""


def _csrf_token_failure(request: HttpRequest) -> str | None:
    """Why Django's CSRF middleware refuses the request's token, or None when the token is valid."""
    check = CSRFCheck(_no_response)
    check.process_request(request)  # reads the CSRF cookie
    reason = check.process_view(request, _no_response, (), {})  # a view that is not csrf_exempt
    return str(reason) if reason else None


def check_cross_site(request: HttpRequest, caller: Caller) -> None:
    """Raise ``CrossSiteRefused`` for a state-changing request with browser credentials from another site (the
    rules are in the module docstring)."""
    if request.method in SAFE_METHODS or not caller.browser_credentials:
        return
    fetch_site = request.headers.get("Sec-Fetch-Site", "").strip().lower()
    if fetch_site == "cross-site":
        raise CrossSiteRefused("Cross-site request refused: the browser sent Sec-Fetch-Site: cross-site.")
    if fetch_site == "same-origin":
        return
    host, secure = request.get_host(), request.is_secure()
    origin = request.headers.get("Origin")
    if origin is not None:
        if origin_is_site(origin, host, secure):
            return
        raise CrossSiteRefused(
            f"Cross-site request refused: Origin '{origin}' is not this site nor in CSRF_TRUSTED_ORIGINS."
        )
    referer = request.headers.get("Referer")
    if referer:
        if origin_is_site(_referer_origin(referer), host, secure):
            return
        raise CrossSiteRefused(
            f"Cross-site request refused: Referer '{referer}' is not this site nor in CSRF_TRUSTED_ORIGINS."
        )
    failure = _csrf_token_failure(request)
    if failure is None:
        return
    if caller.via == "basic" and not fetch_site:
        return  # no Origin and no Fetch Metadata: not a browser, so not a forged request
    raise CrossSiteRefused(
        f"CSRF check failed: {failure} A browser session must send the X-CSRFToken header (or an Origin of "
        "this site); scripts should authenticate with an API token (Authorization: Bearer)."
    )
