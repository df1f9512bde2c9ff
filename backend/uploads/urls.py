from django.urls import path

from backend.uploads import views

urlpatterns = [
    path("uploads", views.UploadListView.as_view(), name="uploads"),
    path("uploads/<int:upload_id>", views.UploadDetailView.as_view(), name="upload-detail"),
    path("uploads/<int:upload_id>/content", views.UploadContentView.as_view(), name="upload-content"),
    path("uploads/<int:upload_id>/thumbnail", views.UploadThumbnailView.as_view(), name="upload-thumbnail"),
]
