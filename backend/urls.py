from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from backend.core.api_docs import api_docs_view, api_redoc_view

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", api_docs_view(), name="api-docs"),
    path("api/redoc/", api_redoc_view(), name="api-redoc"),
    path("api/", include("backend.accounts.urls")),
    path("api/", include("backend.workflows.urls")),
    path("api/", include("backend.coedit.urls")),
    path("api/", include("backend.registry.urls")),
    path("api/", include("backend.runs.urls")),
    path("api/", include("backend.approvals.urls")),
    path("api/", include("backend.uploads.urls")),
    path("api/", include("backend.flowapps.urls")),
    path("api/", include("backend.workers_registry.urls")),
    path("api/", include("backend.automation.urls")),
    path("api/", include("backend.compat.api_urls")),
    path("", include("backend.compat.urls")),
    path("", include("backend.core.urls")),
]
