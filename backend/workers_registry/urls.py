from django.urls import path

from backend.workers_registry import views

urlpatterns = [
    path("workers", views.WorkerListView.as_view(), name="worker-list"),
    path("models", views.ModelListView.as_view(), name="model-list"),
]
