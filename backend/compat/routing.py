"""ComfyUI's websocket: ``/comfy/ws``, ``/comfy/api/ws``, ``/comfy/t/<token>/ws``; with
``FLOWYARD_COMFY_AT_ROOT`` also ``/ws`` and ``/api/ws``."""

from __future__ import annotations

from django.conf import settings
from django.urls import path

from backend.compat import consumers

PATHS = ["comfy/ws", "comfy/api/ws", "comfy/t/<str:token>/ws", "comfy/t/<str:token>/api/ws"]
ROOT_PATHS = ["ws", "api/ws"]


def patterns(paths: list[str]) -> list:
    return [path(route, consumers.ComfyConsumer.as_asgi()) for route in paths]


websocket_urlpatterns = patterns(PATHS) + (patterns(ROOT_PATHS) if settings.FLOWYARD_COMFY_AT_ROOT else [])
