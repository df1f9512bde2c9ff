from django.urls import path

from backend.workflows import views

urlpatterns = [
    path("workflows", views.WorkflowListView.as_view(), name="workflows"),
    path("workflows/<int:workflow_id>", views.WorkflowDetailView.as_view(), name="workflow-detail"),
    path("workflows/<int:workflow_id>/versions", views.VersionListView.as_view(), name="workflow-versions"),
    path(
        "workflows/<int:workflow_id>/versions/<int:number>",
        views.VersionDetailView.as_view(),
        name="workflow-version",
    ),
    path(
        "workflows/<int:workflow_id>/versions/<int:number>/restore",
        views.RestoreView.as_view(),
        name="workflow-version-restore",
    ),
    path("workflows/<int:workflow_id>/diff", views.DiffView.as_view(), name="workflow-diff"),
    path("workflows/<int:workflow_id>/fork", views.ForkView.as_view(), name="workflow-fork"),
    path("workflows/<int:workflow_id>/share", views.ShareView.as_view(), name="workflow-share"),
    path("public/<str:token>", views.PublicWorkflowView.as_view(), name="public-workflow"),
    path("templates", views.TemplateListView.as_view(), name="templates"),
]
