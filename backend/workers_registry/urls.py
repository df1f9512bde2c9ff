from django.urls import path

from backend.workers_registry import views

urlpatterns = [
    path("workers", views.WorkerListView.as_view(), name="worker-list"),
    path("models", views.ModelListView.as_view(), name="model-list"),
    path("models/fetch", views.ModelFetchView.as_view(), name="model-fetch"),
    path("models/fetches", views.ModelFetchListView.as_view(), name="model-fetch-list"),
]
