"""ASGI entry point: HTTP through Django, websockets through Channels.

Websockets authenticate by the session cookie (the browser) or by a personal API token (scripts): ``?token=``
in the URL or ``Authorization: Bearer <token>`` on the handshake. A token, when given, decides: a wrong one
leaves the connection anonymous even if a session cookie came along.
"""

import importlib
import os
from urllib.parse import parse_qs, urlsplit

from django.apps import apps

from backend.core.request_threads import RequestThreads, get_asgi_application


def _use_web_database_pool() -> None:
    """Pool the web process's Postgres connections (the settings module's ``web_database_pool``)."""
    from django.conf import settings

    module = importlib.import_module(os.environ["DJANGO_SETTINGS_MODULE"])
    pool = getattr(module, "web_database_pool", lambda: None)()
    if pool is not None:
        database = settings.DATABASES["default"]
        database["CONN_MAX_AGE"] = 0  # a pooled connection goes back to the pool instead of closing
        database.setdefault("OPTIONS", {})["pool"] = pool


os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
_starting = not apps.ready
if _starting:
    # This module starts the web process (daphne): nothing has connected yet. Imported by a process that is
    # already running (a test), it leaves that process's connections alone.
    _use_web_database_pool()
django_asgi_app = get_asgi_application()
if _starting:
    import logging
    import sys

    from django.conf import settings as _settings

    from workers.runtime.packhost import sandbox

    sandbox.announce(logging.getLogger("backend.asgi"))  # a warning when uploaded packs are not sandboxed
    # The event loop and the request, upload and run threads share one GIL: a thread that needs it waits up to
    # a switch interval for each hand-off, and a request makes several. 1 ms instead of Python's 5 ms took
    # /api/health's p99 under five 60 MB uploads and a 20,000-node submit from 0.26-0.60 s to 0.24-0.39 s
    # (five pairs at load 4-8; docs/benchmarks.md "Web edge"), with no measurable cost to a burst's CPU.
    sys.setswitchinterval(_settings.FLOWYARD_WEB_GIL_SWITCH_MS / 1000)

from channels.auth import AuthMiddleware  # noqa: E402
from channels.db import database_sync_to_async  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.sessions import CookieMiddleware  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth.models import AnonymousUser  # noqa: E402
from django.http.request import split_domain_port, validate_host  # noqa: E402

from backend.accounts.authentication import authenticate_token  # noqa: E402
from backend.core.body_limits import ASGIApp, BodyLimitMiddleware, Receive, Scope, Send  # noqa: E402
from backend.core.streamed_uploads import StreamedUploads  # noqa: E402
from backend.routing import websocket_urlpatterns  # noqa: E402


def handshake_token(scope: Scope) -> str | None:
    """The API token of a websocket handshake (``?token=`` or ``Authorization: Bearer``), or None."""
    token = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
    if token:
        return token[0]
    for name, value in scope.get("headers", []):
        if name.lower() == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                return credentials.strip()
    return None


def _cross_site(scope: Scope) -> bool:
    """True when a browser on another site opened the socket (its cookies must then not sign it in)."""
    for name, value in scope.get("headers", []):
        if name.lower() == b"origin":
            domain, _ = split_domain_port(urlsplit(value.decode("latin-1")).netloc)
            return not (domain and validate_host(domain, settings.ALLOWED_HOSTS))
    return False


class TokenAuthMiddleware:
    """Sets ``scope["user"]`` from an API token when the handshake carries one; sits inside the session stack."""

    def __init__(self, inner: ASGIApp) -> None:
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = handshake_token(scope)
        if raw is not None:
            user = await database_sync_to_async(authenticate_token)(raw)
            scope = {**scope, "user": user or AnonymousUser()}
        elif _cross_site(scope):
            # Session cookies ride along on any site's handshake: only our own pages may use them.
            scope = {**scope, "user": AnonymousUser()}
        return await self.inner(scope, receive, send)


class HandshakeSession:
    """``scope["session"]``: the session of the handshake's cookie, as Channels' ``SessionMiddleware`` sets it,
    without that middleware's wrapper around ``send``, which asks the session on every message sent whether it
    must be saved (a websocket never changes it): 5-8% of the web process's GIL time with 100 ``ws/events/``
    sockets at 10 runs a second (docs/benchmarks.md "Soak")."""

    def __init__(self, inner: ASGIApp) -> None:
        self.inner = inner
        self.store = importlib.import_module(settings.SESSION_ENGINE).SessionStore

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        session = self.store(scope["cookies"].get(settings.SESSION_COOKIE_NAME))
        return await self.inner({**scope, "session": session}, receive, send)


def websocket_application(inner: ASGIApp | None = None) -> ASGIApp:
    """The websocket stack: cookies, session, user, then token authentication, then the routes."""
    routes = inner or URLRouter(websocket_urlpatterns)
    return CookieMiddleware(HandshakeSession(AuthMiddleware(TokenAuthMiddleware(routes))))


# Embedded mode: this process is also the worker (registry row, heartbeat, recovery sweep at start and after).
from backend.workers_registry.embedded import start_embedded_worker  # noqa: E402

start_embedded_worker()

application = ProtocolTypeRouter(
    {
        # Body limits before Django reads a byte of the body (backend/core/body_limits.py), then upload bodies
        # parsed in a thread while they stream in (backend/core/streamed_uploads.py).
        "http": BodyLimitMiddleware(StreamedUploads(RequestThreads(django_asgi_app))),
        "websocket": websocket_application(),
    }
)

# Everything loaded so far lives as long as the process: keep full garbage collections from walking it.
from backend.gc_tuning import freeze  # noqa: E402

freeze()
