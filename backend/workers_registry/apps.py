from django.apps import AppConfig


class WorkersRegistryConfig(AppConfig):
    name = "backend.workers_registry"
    label = "workers_registry"
    verbose_name = "Workers"

    def ready(self) -> None:
        # Celery worker signals (worker_ready / worker_shutdown) register the process and start its heartbeat.
        from backend.workers_registry import signals  # noqa: F401
