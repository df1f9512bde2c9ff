from django.urls import path

from backend.workflows import gallery_views, views

urlpatterns = [
    path("workflows", views.WorkflowListView.as_view(), name="workflows"),
    path("workflows/open", gallery_views.OpenFileView.as_view(), name="workflow-open"),
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
    path(
        "workflows/<int:workflow_id>/versions/<int:number>/export",
        gallery_views.VersionExportView.as_view(),
        name="workflow-version-export",
    ),
    path("workflows/<int:workflow_id>/diff", views.DiffView.as_view(), name="workflow-diff"),
    path("workflows/<int:workflow_id>/fork", views.ForkView.as_view(), name="workflow-fork"),
    path("workflows/<int:workflow_id>/share", views.ShareView.as_view(), name="workflow-share"),
    path("public/<str:token>", views.PublicWorkflowView.as_view(), name="public-workflow"),
    path("templates", views.TemplateListView.as_view(), name="templates"),
    path("templates/builtin", gallery_views.BuiltinTemplateListView.as_view(), name="builtin-templates"),
    path(
        "templates/builtin/<slug:template_id>/preview.svg",
        gallery_views.BuiltinTemplatePreviewView.as_view(),
        name="builtin-template-preview",
    ),
    path(
        "templates/builtin/<slug:template_id>/use",
        gallery_views.UseBuiltinTemplateView.as_view(),
        name="builtin-template-use",
    ),
]
