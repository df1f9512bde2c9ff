from django.apps import AppConfig


class CacheConfig(AppConfig):
    name = "backend.cache"
    label = "cache"
    verbose_name = "Node output cache"

    def ready(self) -> None:
        # Blob collection must never delete what a cache row still refers to.
        from backend.cache.models import cache_blob_references
        from backend.storage.references import register_blob_reference_checker

        register_blob_reference_checker("cache.CacheRecord", cache_blob_references)
