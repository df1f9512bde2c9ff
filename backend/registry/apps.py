from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "backend.registry"
    label = "registry"
