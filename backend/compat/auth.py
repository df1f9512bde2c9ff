"""Who is calling: every ComfyUI-compatible call is a Flowyard user's call.

An API token is accepted as ``Authorization: Bearer <token>``, as the password of HTTP Basic (any username, so
clients that only know ``user:password@host`` work), as ``?token=``, or as a path segment
``/comfy/t/<token>/...`` (clients that only take a base URL). A token, when given, decides alone: a wrong one
is refused even if a session cookie came along. Without a token the browser's session is used. The session and
Basic are credentials a browser sends by itself, so state-changing calls made with them also pass the
cross-site check (``csrf.check_cross_site``); ``Caller.via`` says which credential was used.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from django.http import HttpRequest

from backend.accounts.authentication import authenticate_token
from backend.accounts.models import ApiToken, User, hash_secret

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Credentials a browser attaches to any page's request by itself (a remembered Basic login, the cookie).
BROWSER_CREDENTIALS = frozenset({"basic", "session"})


@dataclass(frozen=True)
class Caller:
    """The signed-in user, the raw token they used (None: the session) and how it came: ``bearer``, ``basic``,
    ``query``, ``path`` or ``session``."""

    user: User
    token: str | None
    via: str

    @property
    def browser_credentials(self) -> bool:
        """True when a browser could have sent the credential without the page knowing it."""
        return self.via in BROWSER_CREDENTIALS


class NotAuthenticated(Exception):
    """No usable credentials (answered 401)."""


def token_from_headers(headers: dict[str, str]) -> tuple[str | None, str]:
    """The token of ``Authorization: Bearer <t>`` or of Basic's password, and the scheme (``bearer`` or
    ``basic``); ``(None, "")`` when there is neither."""
    value = headers.get("authorization", "")
    scheme, _, credentials = value.partition(" ")
    credentials = credentials.strip()
    if not credentials:
        return None, ""
    if scheme.lower() == "bearer":
        return credentials, "bearer"
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return "", "basic"
        _, _, password = decoded.partition(":")
        return password, "basic"
    return None, ""


def request_token(request: HttpRequest, path_token: str | None) -> tuple[str | None, str]:
    """The token a request carries (path segment, header, ``?token=``) and how it came; ``(None, "")``."""
    if path_token is not None:
        return path_token, "path"
    found, via = token_from_headers({"authorization": request.headers.get("Authorization", "")})
    if found is not None:
        return found, via
    query = request.GET.get("token")
    return (query, "query") if query is not None else (None, "")


def authenticate_request(request: HttpRequest, path_token: str | None = None) -> Caller:
    """Return the caller, or raise ``NotAuthenticated``."""
    raw, via = request_token(request, path_token)
    if raw is not None:
        user = authenticate_token(raw)
        if user is None:
            raise NotAuthenticated("Invalid or revoked API token.")
        return Caller(user, raw, via)
    user = getattr(request, "user", None)  # set by AuthenticationMiddleware (a lazy User or AnonymousUser)
    if isinstance(user, User) and user.is_authenticated:
        return Caller(user, None, "session")
    raise NotAuthenticated("Authentication required: send an API token (Bearer, Basic password or ?token=).")


def handshake_token(scope: Mapping[str, Any], path_token: str | None) -> tuple[str | None, str]:
    """The token of a websocket handshake (path segment, ``?token=``, Bearer or Basic) and how it came;
    ``(None, "")`` when absent."""
    if path_token is not None:
        return path_token, "path"
    query = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
    if query:
        return query[0], "query"
    headers = {
        name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope.get("headers", [])
    }
    return token_from_headers(headers)


def token_row(raw: str | None) -> ApiToken | None:
    """The stored token for ``raw`` (to read its ComfyUI settings), or None."""
    if not raw:
        return None
    return ApiToken.objects.filter(token_hash=hash_secret(raw.strip()), revoked_at__isnull=True).first()
