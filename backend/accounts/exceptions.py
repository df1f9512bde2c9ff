"""The API's error shape: ``{"detail": "...", "errors": [{"field"|"node"|"input": ..., "message": ...}]}``."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_exception_handler

from backend.core.unavailable import unavailable_response, unavailable_service


class ApiError(exceptions.APIException):
    """A 4xx answer whose ``errors`` list is given as is (e.g. graph errors naming node and input)."""

    status_code: int = status.HTTP_400_BAD_REQUEST
    default_detail = "Invalid input."

    def __init__(self, detail: str, errors: list[dict[str, Any]] | None = None, status_code: int = 400):
        super().__init__(detail)
        self.payload: dict[str, Any] = {"detail": detail, "errors": errors or []}
        self.status_code = status_code


def field_error(field: str, message: str) -> exceptions.ValidationError:
    """A 400 naming one field."""
    return exceptions.ValidationError({field: [message]})


def _flatten(data: Any, path: str = "") -> list[dict[str, Any]]:
    if isinstance(data, dict):
        out: list[dict[str, Any]] = []
        for key, value in data.items():
            out += _flatten(value, f"{path}.{key}" if path else str(key))
        return out
    if isinstance(data, list) and data and all(not isinstance(item, dict | list) for item in data):
        return [{"field": path or "non_field_errors", "message": str(item)} for item in data]
    if isinstance(data, list):
        out = []
        for index, value in enumerate(data):
            if value:
                out += _flatten(value, f"{path}.{index}" if path else str(index))
        return out
    return [{"field": path or "non_field_errors", "message": str(data)}]


def exception_handler(exc: Exception, context: dict[str, Any]) -> HttpResponse | None:
    """DRF's handler, reshaped so every error answer has ``detail`` and ``errors``; an outage answers 503."""
    response = drf_exception_handler(exc, context)
    if response is None:
        # A database or broker outage is the service's, not a bug: 503 JSON with Retry-After, never a 500.
        service = unavailable_service(exc)
        return unavailable_response(service, exc) if service else None
    if isinstance(exc, ApiError):
        response.data = exc.payload
    elif isinstance(exc, exceptions.ValidationError):
        errors = _flatten(response.data)
        for error in errors:
            if error["field"] == "non_field_errors":
                error.pop("field")
        detail = errors[0]["message"] if len(errors) == 1 else "Invalid input."
        if len(errors) == 1 and "field" in errors[0]:
            detail = f"{errors[0]['field']}: {detail}"
        response.data = {"detail": detail, "errors": errors}
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"detail": str(response.data["detail"]), "errors": []}
    return response
