"""Websocket routes of live co-editing."""

from django.urls import path

from backend.coedit import consumers, run_feed

websocket_urlpatterns = [
    path("ws/workflows/<int:workflow_id>/doc/", consumers.DocumentConsumer.as_asgi()),
    path("ws/workflows/<int:workflow_id>/runs/", run_feed.WorkflowRunsConsumer.as_asgi()),
]
