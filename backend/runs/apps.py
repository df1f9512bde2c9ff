from django.apps import AppConfig


class RunsConfig(AppConfig):
    name = "backend.runs"
    label = "runs"
    verbose_name = "Runs"

    def ready(self) -> None:
        from backend.runs import dispatch, execution
        from backend.runs.models import run_output_blob_references

        # The embedded dispatcher runs the executor, which sits above it (the executor calls the scheduler, which
        # calls the dispatcher): wired here, once, rather than imported by the dispatcher.
        dispatch.register_local_executor(execution.execute_run, execution.cancel_local)

        # Blob collection (cache eviction, orphan sweeps) must never delete a blob a run output still uses.
        try:
            from backend.storage.references import register_blob_reference_checker
        except ImportError:  # the storage app is not installed: nothing collects blobs
            return
        register_blob_reference_checker("runs.RunOutput", run_output_blob_references)
