from django.urls import path

from backend.core import views

urlpatterns = [
    path("api/health", views.health, name="health"),
    path("", views.index, name="index"),
]
