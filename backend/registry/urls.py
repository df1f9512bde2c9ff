from django.urls import path

from backend.registry import views

urlpatterns = [
    path("nodes", views.NodeCatalogView.as_view(), name="node-catalog"),
    path("packs", views.PackListView.as_view(), name="packs"),
    path("packs/upload", views.PackUploadView.as_view(), name="pack-upload"),
    path("packs/review", views.ReviewQueueView.as_view(), name="pack-review"),
    path("packs/versions/<int:version_id>", views.VersionByIdView.as_view(), name="pack-version-by-id"),
    path(
        "packs/versions/<int:version_id>/<str:verb>",
        views.VersionActionView.as_view(),
        name="pack-version-action",
    ),
    path("packs/<str:name>", views.PackDetailView.as_view(), name="pack-detail"),
    path(
        "packs/<str:name>/versions/<str:version>", views.PackVersionDetailView.as_view(), name="pack-version"
    ),
    path(
        "packs/<str:name>/versions/<str:version>/download",
        views.PackDownloadView.as_view(),
        name="pack-download",
    ),
    path("publishers", views.PublisherListView.as_view(), name="publishers"),
    path("publishers/<slug:slug>", views.PublisherDetailView.as_view(), name="publisher-detail"),
    path(
        "workspaces/<int:workspace_id>/packs", views.WorkspacePackListView.as_view(), name="workspace-packs"
    ),
    path(
        "workspaces/<int:workspace_id>/packs/<str:name>",
        views.WorkspacePackDetailView.as_view(),
        name="workspace-pack",
    ),
]
