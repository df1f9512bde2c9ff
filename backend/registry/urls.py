from django.urls import path

from backend.registry import views

urlpatterns = [
    path("nodes", views.NodeCatalogView.as_view(), name="node-catalog"),
]
