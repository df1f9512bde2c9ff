"""Websocket routes of every app, collected in one place."""

from backend.coedit.routing import websocket_urlpatterns as coedit_websockets
from backend.compat.routing import websocket_urlpatterns as compat_websockets
from backend.runs.routing import websocket_urlpatterns as runs_websockets

websocket_urlpatterns: list = [*runs_websockets, *compat_websockets, *coedit_websockets]
