from django.apps import AppConfig


class RunsConfig(AppConfig):
    name = "backend.runs"
    label = "runs"
    verbose_name = "Runs"

    def ready(self) -> None:
        # Blob collection (cache eviction, orphan sweeps) must never delete a blob a run output still uses.
        from backend.runs.models import run_output_blob_references

        try:
            from backend.storage.references import register_blob_reference_checker
        except ImportError:  # the storage app is not installed: nothing collects blobs
            return
        register_blob_reference_checker("runs.RunOutput", run_output_blob_references)
