"""A database or broker outage answers 503 JSON that says which one, never a 500 HTML page.

Three places turn the exception into the answer: the REST framework's exception handler (API views), the
``ServiceUnavailableMiddleware`` below (plain Django views and the middleware around them), and nothing else
needs to: every request goes through one of the two.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.signals import got_request_exception
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

DATABASE = "database"
BROKER = "broker"
REASONS = {
    DATABASE: "the database is unavailable",
    BROKER: "the message broker is unavailable",
}


def _database_errors() -> tuple[type[BaseException], ...]:
    from django.db import InterfaceError, OperationalError

    errors: list[type[BaseException]] = [OperationalError, InterfaceError]
    try:
        import psycopg
        import psycopg_pool

        errors += [psycopg.OperationalError, psycopg.InterfaceError, psycopg_pool.PoolTimeout]
    except ImportError:  # SQLite-only installations
        pass
    return tuple(errors)


def _broker_errors() -> tuple[type[BaseException], ...]:
    import kombu.exceptions
    import redis.exceptions

    return (
        redis.exceptions.ConnectionError,
        redis.exceptions.TimeoutError,
        kombu.exceptions.OperationalError,
    )


def unavailable_service(exc: BaseException | None) -> str | None:
    """``"database"`` or ``"broker"`` when ``exc`` (or what caused it) says that service cannot be reached."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, _database_errors()):
            return DATABASE
        if isinstance(exc, _broker_errors()):
            return BROKER
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def retry_after_seconds() -> int:
    """How long clients are told to wait before trying again (``FLOWYARD_UNAVAILABLE_RETRY_AFTER``)."""
    return int(getattr(settings, "FLOWYARD_UNAVAILABLE_RETRY_AFTER", 5))


def unavailable_body(service: str) -> dict[str, Any]:
    """The 503 payload: the API's error shape plus which service and when to retry."""
    reason = REASONS[service]
    detail = f"Service unavailable: {reason}. Try again in a few seconds."
    return {
        "detail": detail,
        "errors": [{"field": service, "message": reason}],
        "unavailable": service,
        "retry_after": retry_after_seconds(),
        # ComfyUI clients read "error".
        "error": detail,
    }


def unavailable_response(service: str, exc: BaseException | None = None) -> JsonResponse:
    """A 503 JSON answer with ``Retry-After`` for an outage of ``service``."""
    logger.warning("answering 503: %s (%s)", REASONS[service], f"{type(exc).__name__}: {exc}" if exc else "")
    response = JsonResponse(unavailable_body(service), status=503)
    response["Retry-After"] = str(retry_after_seconds())
    response["Cache-Control"] = "no-store"
    return response


def _remember_outage(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    """Marks the request when the exception Django is about to answer with a 500 is an outage."""
    import sys

    exc = sys.exc_info()[1]
    service = unavailable_service(exc)
    if request is not None and service is not None:
        request._flowyard_unavailable = (service, exc)  # type: ignore[attr-defined]


got_request_exception.connect(_remember_outage, dispatch_uid="flowyard-unavailable")


class ServiceUnavailableMiddleware:
    """Outermost middleware: an outage raised by a view or by any middleware inside answers 503 JSON.

    Django turns an exception into a 500 page inside each middleware layer, after sending
    ``got_request_exception``; the signal marks the request, and this layer swaps the 500 for the 503.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        marked = getattr(request, "_flowyard_unavailable", None)
        if marked is not None and response.status_code >= 500:
            return unavailable_response(*marked)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        service = unavailable_service(exception)
        return unavailable_response(service, exception) if service else None
