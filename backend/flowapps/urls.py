from django.urls import path

from backend.flowapps import views

urlpatterns = [
    path("apps", views.AppListView.as_view(), name="apps"),
    path("apps/<slug:slug>", views.AppDetailView.as_view(), name="app-detail"),
    path("apps/<slug:slug>/openapi.json", views.AppOpenApiView.as_view(), name="app-openapi"),
    path("apps/<slug:slug>/keys", views.AppKeyListView.as_view(), name="app-keys"),
    path("apps/<slug:slug>/keys/<int:key_id>", views.AppKeyDetailView.as_view(), name="app-key-detail"),
    path("apps/<slug:slug>/runs", views.AppRunListView.as_view(), name="app-runs"),
    path("apps/<slug:slug>/runs/<uuid:run_id>", views.AppRunDetailView.as_view(), name="app-run-detail"),
    path("apps/<slug:slug>/uploads", views.AppUploadView.as_view(), name="app-uploads"),
    path("apps/<slug:slug>/outputs/<str:token>", views.AppOutputView.as_view(), name="app-output"),
]
