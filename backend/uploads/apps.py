from django.apps import AppConfig


class UploadsConfig(AppConfig):
    name = "backend.uploads"
    label = "uploads"
    verbose_name = "Uploads"

    def ready(self) -> None:
        # Blob collection must never delete the bytes an upload (or one of its thumbnails) points to.
        from backend.storage.references import register_blob_reference_checker
        from backend.uploads.models import upload_blob_references

        register_blob_reference_checker("uploads.Upload", upload_blob_references)
