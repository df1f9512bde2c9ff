"""The draft over HTTP: read it as a JSON document, and save it as the workflow's next immutable version; show a
run its starter queued from the editor to everyone in the workflow."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.access import Need, access_run, access_workflow, access_workflow_draft
from backend.accounts.authentication import AuthenticatedRequest
from backend.accounts.models import User
from backend.coedit import run_feed, store
from backend.coedit.models import DraftSnapshot, SharedRun
from backend.runs.models import Run
from backend.workflows import actions
from backend.workflows.documents import parse_document
from backend.workflows.models import Workflow
from backend.workflows.serializers import VersionDocumentSerializer


class DraftSerializer(serializers.Serializer):
    graph = serializers.JSONField()
    layout = serializers.JSONField()
    base_version = serializers.IntegerField(allow_null=True)


class SaveDraftSerializer(serializers.Serializer):
    message = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class DraftView(APIView):
    @extend_schema(responses=DraftSerializer)
    def get(self, request: AuthenticatedRequest, workflow_id: int) -> Response:
        """The co-edited draft as a JSON document (made from the latest version if nobody co-edited yet)."""
        workflow = access_workflow(request.user, workflow_id)
        graph, layout = store.draft_document(workflow.pk)
        base = DraftSnapshot.objects.values_list("base_version", flat=True).get(workflow_id=workflow.pk)
        return Response({"graph": graph, "layout": layout, "base_version": base})


class SaveDraftView(APIView):
    @extend_schema(
        request=SaveDraftSerializer,
        responses={
            201: VersionDocumentSerializer,
            200: OpenApiResponse(VersionDocumentSerializer, description="Already the latest content"),
        },
    )
    def post(self, request: AuthenticatedRequest, workflow_id: int) -> Response:
        """Save the draft as the next version: validated as any saved document is (400 naming the field)."""
        workflow = access_workflow(request.user, workflow_id, Need.EDIT)
        body = SaveDraftSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        document = parse_document(*store.draft_document(workflow.pk))
        version, created = actions.do_save_version(
            workflow, request.user, document, body.validated_data["message"], source="draft"
        )
        return Response(
            VersionDocumentSerializer(version).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class ShareRunSerializer(serializers.Serializer):
    run = serializers.UUIDField()


class ShareRunView(APIView):
    @extend_schema(request=ShareRunSerializer, responses={204: None})
    def post(self, request: AuthenticatedRequest, workflow_id: int) -> Response:
        """Show a run the caller queued from this workflow's editor to everyone who has it open
        (``ws/workflows/<id>/runs/``): a raw-graph run of the workflow's workspace that the caller started, or
        a run of this workflow (already announced when it was queued). 404 for any other run, and for a raw-graph
        run already shared in another workflow."""
        workflow, _ = access_workflow_draft(request.user, workflow_id)
        body = ShareRunSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        run = access_run(request.user, body.validated_data["run"], graphs=False)
        if (
            run.created_by_id != request.user.pk
            or run.workspace_id != workflow.workspace_id
            or run.workflow_id not in (None, workflow.pk)
        ):
            raise NotFound("No such run.")
        if run.workflow_id is None:
            if not _remember_share(run, workflow, request.user):
                raise NotFound("No such run.")
            run_feed.publish_run(workflow.pk, run)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _remember_share(run: Run, workflow: Workflow, user: User) -> bool:
    """Store where the raw-graph ``run`` was shared, so that an editor joining later, on any web process, is told
    of it while it is unfinished; False when it was already shared in another workflow (a run is queued from one
    editor). Stored before it is published: a joiner that reads before the row exists is in the group already.
    Rows of finished runs go here: the feed names only unfinished runs, so the table holds about as many rows as
    there are unfinished shared runs."""
    SharedRun.objects.filter(run__status__in=Run.FINISHED).delete()
    share, _ = SharedRun.objects.get_or_create(run=run, defaults={"workflow": workflow, "shared_by": user})
    return share.workflow_id == workflow.pk
