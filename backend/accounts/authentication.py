"""API tokens: ``Authorization: Bearer <token>`` for DRF, and ``authenticate_token`` for websockets."""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from cachetools import TLRUCache
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from backend.accounts.models import ApiToken, User, hash_secret

# last_used is informational: write it at most once a minute per token, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)

# A token's user is remembered in each process for this long after the token was read: a burst of requests (a
# ComfyUI client's prompts) reads the token once, not once per request. The bound on revocation: a token revoked
# (or whose user is deactivated or deleted) through this process is refused by it at once (``forget_tokens``,
# called by the revoke action and on token and user saves and deletes), and by every other process within
# TOKEN_CACHE_SECONDS.
TOKEN_CACHE_SECONDS = 5.0
TOKEN_CACHE_SIZE = 1024  # when full, the least recently used token is forgotten (expired ones first)
_clock = time.monotonic  # the cache's clock (tests move it)


@dataclass(frozen=True)
class _Remembered:
    token_id: int
    user: User  # never handed out: each caller gets its own copy


def _lifetime_end(_digest: str, _entry: _Remembered, now: float) -> float:
    return now + TOKEN_CACHE_SECONDS  # read on each insert: tests may lengthen it


# A TLRUCache rather than a TTLCache: its time to live is asked per entry, so TOKEN_CACHE_SECONDS stays a plain
# module setting. cachetools' caches are not thread-safe (even a read reorders the LRU list): every use holds
# the lock.
_remembered: TLRUCache[str, _Remembered] = TLRUCache(
    maxsize=TOKEN_CACHE_SIZE, ttu=_lifetime_end, timer=lambda: _clock()
)
_remembered_lock = threading.Lock()


def authenticate_token(raw: str) -> User | None:
    """Return the active user owning the unrevoked token ``raw``, or None (see TOKEN_CACHE_SECONDS)."""
    if not raw:
        return None
    digest = hash_secret(raw.strip())
    with _remembered_lock:
        remembered = _remembered.get(digest)
        if remembered is not None:
            return copy.copy(remembered.user)
    token = (
        ApiToken.objects.select_related("user")
        .filter(token_hash=digest, revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        with _remembered_lock:
            _remembered.pop(digest, None)
        return None
    at = timezone.now()
    if token.last_used is None or at - token.last_used > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used=at)
    with _remembered_lock:
        _remembered[digest] = _Remembered(token.pk, copy.copy(token.user))
    return token.user


def forget_tokens(*, token_id: int | None = None, user_id: int | None = None) -> None:
    """Drop this process's remembered tokens: the token ``token_id``, or every token of ``user_id``."""
    with _remembered_lock:
        for key, entry in list(_remembered.items()):
            if entry.token_id == token_id or (user_id is not None and entry.user.pk == user_id):
                del _remembered[key]


class AuthenticatedRequest(Request):
    """The request of a view behind ``IsAuthenticated`` (the default): ``user`` is a signed-in User.

    For annotations only: DRF builds plain Requests, and the permission check makes this one true.
    """

    user: User


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """DRF authentication by personal API token; requests without the header fall through to the session."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[User, None] | None:
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0].lower() != self.keyword.lower():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid Authorization header: expected 'Bearer <token>'.")
        user = authenticate_token(header[1])
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API token.")
        return (user, None)

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
