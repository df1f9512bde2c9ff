from django.urls import path

from backend.runs import views

urlpatterns = [
    path("runs", views.RunListView.as_view(), name="runs"),
    path("runs/<uuid:run_id>", views.RunDetailView.as_view(), name="run-detail"),
    path("runs/<uuid:run_id>/cancel", views.RunCancelView.as_view(), name="run-cancel"),
    path("runs/<uuid:run_id>/rerun", views.RunRerunView.as_view(), name="run-rerun"),
    path("runs/<uuid:run_id>/resume", views.RunResumeView.as_view(), name="run-resume"),
    path("runs/<uuid:run_id>/events", views.RunEventsView.as_view(), name="run-events"),
    path("runs/<uuid:run_id>/outputs/<int:output_id>", views.RunOutputView.as_view(), name="run-output"),
]
