"""App keys: ``Authorization: Bearer fyk_...`` authenticates as a key of one app, not as a user."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from backend.accounts.models import hash_secret
from backend.flowapps.models import APP_KEY_PREFIX, AppKey

LAST_USED_RESOLUTION = timedelta(minutes=1)


class AppKeyAuthentication(authentication.BaseAuthentication):
    """Listed first on the app endpoints only: elsewhere an app key is an unknown token (401)."""

    def authenticate(self, request: Request) -> tuple[AnonymousUser, AppKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if len(header) != 2 or header[0].lower() != "bearer" or not header[1].startswith(APP_KEY_PREFIX):
            return None
        key = (
            AppKey.objects.select_related("app")
            .filter(key_hash=hash_secret(header[1]), revoked_at__isnull=True)
            .first()
        )
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked app key.")
        now = timezone.now()
        if key.last_used is None or now - key.last_used > LAST_USED_RESOLUTION:
            AppKey.objects.filter(pk=key.pk).update(last_used=now)
        return (AnonymousUser(), key)

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"
