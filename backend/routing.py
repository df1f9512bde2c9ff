"""Websocket routes of every app, collected in one place."""

from backend.runs.routing import websocket_urlpatterns as runs_websockets

websocket_urlpatterns: list = [*runs_websockets]
