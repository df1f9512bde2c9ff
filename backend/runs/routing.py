"""Websocket routes of runs."""

from django.urls import path

from backend.runs import consumers

websocket_urlpatterns = [
    path("ws/runs/<uuid:run_id>/", consumers.RunConsumer.as_asgi()),
    path("ws/events/", consumers.EventsConsumer.as_asgi()),
]
