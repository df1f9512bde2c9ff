"""ComfyUI's routes, each at ``/comfy/x`` and ``/comfy/api/x``, with the token as a path segment too
(``/comfy/t/<token>/x``); with ``FLOWYARD_COMFY_AT_ROOT`` also at ``/x`` and ``/api/x`` (only ComfyUI's exact
paths, so the single-page app and Flowyard's own ``/api/`` routes are untouched)."""

from __future__ import annotations

from django.conf import settings
from django.urls import path

from backend.compat import views

ROUTES = [
    ("prompt", views.prompt, "prompt"),
    ("queue", views.queue, "queue"),
    ("interrupt", views.interrupt, "interrupt"),
    ("free", views.free, "free"),
    ("history", views.history, "history"),
    ("history/<str:prompt_id>", views.history_item, "history-item"),
    ("view", views.view, "view"),
    ("upload/image", views.upload_image, "upload-image"),
    ("upload/mask", views.upload_mask, "upload-mask"),
    ("object_info", views.object_info_all, "object-info"),
    ("object_info/<str:node_class>", views.object_info_one, "object-info-one"),
    ("system_stats", views.system_stats, "system-stats"),
    ("features", views.features, "features"),
    ("embeddings", views.empty_list, "embeddings"),
    ("extensions", views.empty_list, "extensions"),
    ("models", views.empty_list, "models"),
    ("models/<str:folder>", views.empty_list, "models-folder"),
]

PREFIXES = [("comfy/", "comfy"), ("comfy/api/", "comfy-api"), ("comfy/t/<str:token>/", "comfy-t"),
            ("comfy/t/<str:token>/api/", "comfy-t-api")]  # fmt: skip
ROOT_PREFIXES = [("", "comfy-root"), ("api/", "comfy-root-api")]


def patterns(prefixes: list[tuple[str, str]]) -> list:
    return [
        path(prefix + route, view, name=f"{label}-{name}")
        for prefix, label in prefixes
        for route, view, name in ROUTES
    ]


def root_urlpatterns() -> list:
    """ComfyUI's exact paths at the site root (for clients that cannot take a path prefix)."""
    return patterns(ROOT_PREFIXES)


urlpatterns = patterns(PREFIXES) + (root_urlpatterns() if settings.FLOWYARD_COMFY_AT_ROOT else [])
