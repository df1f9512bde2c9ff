from django.urls import path

from backend.coedit import views

urlpatterns = [
    path("workflows/<int:workflow_id>/draft", views.DraftView.as_view(), name="workflow-draft"),
    path("workflows/<int:workflow_id>/draft/save", views.SaveDraftView.as_view(), name="workflow-draft-save"),
    path(
        "workflows/<int:workflow_id>/shared-runs", views.ShareRunView.as_view(), name="workflow-shared-runs"
    ),
]
