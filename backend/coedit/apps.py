from django.apps import AppConfig


class CoeditConfig(AppConfig):
    name = "backend.coedit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        import backend.coedit.signals  # noqa: F401  (connects the membership receivers)
