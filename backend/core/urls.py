from django.urls import path, re_path

from backend.core import views

urlpatterns = [
    path("api/health", views.health, name="health"),
    # Every other path not owned by the server is a browser route of the single-page app.
    re_path(r"^(?!(?:api|admin|static|ws|comfy)(?:/|$))(?P<path>.*)$", views.spa, name="spa"),
]
