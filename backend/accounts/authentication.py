"""API tokens: ``Authorization: Bearer <token>`` for DRF, and ``authenticate_token`` for websockets."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from backend.accounts.models import ApiToken, User, hash_secret

# last_used is informational: write it at most once a minute per token, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def authenticate_token(raw: str) -> User | None:
    """Return the active user owning the unrevoked token ``raw``, or None."""
    if not raw:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(token_hash=hash_secret(raw.strip()), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used is None or now - token.last_used > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used=now)
    return token.user


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
