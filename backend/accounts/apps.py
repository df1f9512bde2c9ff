from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "backend.accounts"
    label = "accounts"

    def ready(self) -> None:
        # Registers the OpenAPI description of Bearer auth and the personal-workspace signal.
        from backend.accounts import schema, signals  # noqa: F401
