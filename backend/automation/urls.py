from django.urls import path

from backend.automation import views

urlpatterns = [
    path(
        "workflows/<int:workflow_id>/webhooks",
        views.WorkflowWebhookListView.as_view(),
        name="workflow-webhooks",
    ),
    path(
        "workspaces/<int:workspace_id>/webhooks",
        views.WorkspaceWebhookListView.as_view(),
        name="workspace-webhooks",
    ),
    path("webhooks/<uuid:webhook_id>", views.WebhookDetailView.as_view(), name="webhook-detail"),
    path(
        "webhooks/<uuid:webhook_id>/rotate-secret",
        views.WebhookRotateSecretView.as_view(),
        name="webhook-rotate",
    ),
    path(
        "webhooks/<uuid:webhook_id>/deliveries",
        views.WebhookDeliveryListView.as_view(),
        name="webhook-deliveries",
    ),
    path(
        "webhooks/<uuid:webhook_id>/deliveries/<uuid:delivery_id>/redeliver",
        views.RedeliverView.as_view(),
        name="webhook-redeliver",
    ),
    path(
        "workflows/<int:workflow_id>/triggers",
        views.WorkflowTriggerListView.as_view(),
        name="workflow-triggers",
    ),
    path("triggers/<uuid:trigger_id>", views.TriggerView.as_view(), name="trigger"),
    path(
        "triggers/<uuid:trigger_id>/rotate-secret",
        views.TriggerRotateSecretView.as_view(),
        name="trigger-rotate",
    ),
    path(
        "workflows/<int:workflow_id>/schedules",
        views.WorkflowScheduleListView.as_view(),
        name="workflow-schedules",
    ),
    path("schedules/preview", views.SchedulePreviewView.as_view(), name="schedule-preview"),
    path("schedules/<uuid:schedule_id>", views.ScheduleDetailView.as_view(), name="schedule-detail"),
]
