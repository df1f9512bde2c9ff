from django.urls import path

from backend.compat import api

urlpatterns = [
    path("import/comfy", api.ImportComfyView.as_view(), name="import-comfy"),
    path("workflows/<int:workflow_id>/export/comfy", api.ExportComfyView.as_view(), name="export-comfy"),
    path("comfy/tokens/<int:token_id>", api.TokenSettingsView.as_view(), name="comfy-token-settings"),
]
