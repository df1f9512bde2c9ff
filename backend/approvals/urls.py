from django.urls import path

from backend.approvals import views

urlpatterns = [
    path("approvals", views.ApprovalListView.as_view(), name="approvals"),
    path("runs/<uuid:run_id>/approvals", views.RunApprovalListView.as_view(), name="run-approvals"),
    path(
        "runs/<uuid:run_id>/approvals/<int:approval_id>",
        views.ApprovalDecisionView.as_view(),
        name="run-approval-decision",
    ),
]
