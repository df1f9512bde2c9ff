from typing import Any

from django.apps import AppConfig
from django.core.signals import setting_changed


def _rebuild_blob_store(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith(("FLOWYARD_BLOB", "FLOWYARD_S3", "AWS_")):
        from backend.storage.blobs import get_blob_store

        get_blob_store.cache_clear()


class StorageConfig(AppConfig):
    name = "backend.storage"
    label = "storage"
    verbose_name = "Blob storage"

    def ready(self) -> None:
        # Tests that override the blob settings get a store built from the new values.
        setting_changed.connect(_rebuild_blob_store, dispatch_uid="storage.rebuild_blob_store")
