from django.apps import AppConfig


class FlowAppsConfig(AppConfig):
    name = "backend.flowapps"
    label = "flowapps"
    verbose_name = "Apps"
