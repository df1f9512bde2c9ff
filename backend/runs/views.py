"""Runs API: submit, list, inspect, cancel, rerun, resume, delete, replay events, download outputs."""

from __future__ import annotations

from typing import cast
from uuid import UUID

from django.http import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.access import (
    Need,
    access_run,
    access_run_target,
    access_run_to_manage,
    access_workflow,
    access_workspace,
    visible_runs,
)
from backend.accounts.authentication import BearerTokenAuthentication
from backend.accounts.models import AnyUser, User
from backend.runs import actions
from backend.runs.models import Run, RunOutput
from backend.runs.serializers import (
    EventPageSerializer,
    EventQuerySerializer,
    RunCreateSerializer,
    RunDetailSerializer,
    RunListQuerySerializer,
    RunSerializer,
)
from backend.storage.responses import blob_response


def _caller(request: Request) -> User:
    """The signed-in caller: every view here needs one (``IsAuthenticated``, REST_FRAMEWORK in settings.py)."""
    return cast(User, request.user)


def _source(request: Request) -> str:
    """Token-authenticated calls come from API clients; session calls from the editor."""
    if isinstance(request.successful_authenticator, BearerTokenAuthentication):
        return Run.Source.API
    return Run.Source.UI


def _detail(user: AnyUser, run_id: UUID, status_code: int = status.HTTP_200_OK) -> Response:
    return Response(RunDetailSerializer(access_run(user, run_id)).data, status=status_code)


def _created(run: Run) -> Response:
    """201 with the detail of a run just created, from the objects in memory (its nodes as inserted, no
    results yet); only its state is re-read, since the scheduler may have handed it over (or it started)."""
    state = Run.objects.filter(pk=run.pk).values("status", "dispatched", "started", "worker").first()
    if state is not None:
        for name, value in state.items():
            setattr(run, name, value)
    # Built without an instance and not kept on the serializer, which its fields refer back to (a reference cycle).
    return Response(RunDetailSerializer().to_representation(run), status=status.HTTP_201_CREATED)


class RunPagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 200


class RunListView(APIView):
    @extend_schema(parameters=[RunListQuerySerializer], responses=RunSerializer(many=True))
    def get(self, request: Request) -> Response:
        query = RunListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        runs = visible_runs(request.user).select_related("workflow_version", "created_by")
        if params["mine"]:
            runs = runs.filter(created_by=_caller(request))
        if "workspace" in params:
            runs = runs.filter(workspace=access_workspace(request.user, params["workspace"]))
        if "workflow" in params:
            runs = runs.filter(workflow=access_workflow(request.user, params["workflow"]))
        if "status" in params:
            runs = runs.filter(status=params["status"])
        paginator = RunPagination()
        page = paginator.paginate_queryset(runs.order_by("-created", "-id"), request, view=self)
        return paginator.get_paginated_response(RunSerializer(page, many=True).data)

    @extend_schema(request=RunCreateSerializer, responses={201: RunDetailSerializer})
    def post(self, request: Request) -> Response:
        # Validated without keeping the data on the serializer (it and its fields refer to each other).
        data = RunCreateSerializer().run_validation(request.data)
        workspace, version = access_run_target(
            request.user,
            workflow_id=data.get("workflow"),
            number=data.get("version"),
            workspace_id=data.get("workspace"),
        )
        run = actions.do_create_run(
            _caller(request),
            workspace=workspace,
            workflow_version=version,
            graph=data.get("graph"),
            overrides=data.get("overrides"),
            outputs=data.get("outputs"),
            priority=data["priority"],
            source=_source(request),
        )
        return _created(run)


class RunDetailView(APIView):
    @extend_schema(responses=RunDetailSerializer)
    def get(self, request: Request, run_id: UUID) -> Response:
        return _detail(request.user, run_id)

    @extend_schema(responses={204: None, 409: OpenApiResponse(description="The run has not finished")})
    def delete(self, request: Request, run_id: UUID) -> Response:
        actions.do_delete_run(access_run_to_manage(request.user, run_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class RunCancelView(APIView):
    @extend_schema(
        request=None, responses={200: RunDetailSerializer, 409: OpenApiResponse(description="Finished")}
    )
    def post(self, request: Request, run_id: UUID) -> Response:
        run = actions.do_cancel_run(access_run_to_manage(request.user, run_id))
        return _detail(request.user, run.pk)


class RunRerunView(APIView):
    @extend_schema(request=None, responses={201: RunDetailSerializer})
    def post(self, request: Request, run_id: UUID) -> Response:
        run = actions.do_rerun(
            _caller(request),
            access_run(request.user, run_id, Need.RUN),
            source=_source(request),
        )
        return _created(run)


class RunResumeView(APIView):
    @extend_schema(
        request=None, responses={201: RunDetailSerializer, 409: OpenApiResponse(description="Not failed")}
    )
    def post(self, request: Request, run_id: UUID) -> Response:
        run = actions.do_resume(
            _caller(request),
            access_run(request.user, run_id, Need.RUN),
            source=_source(request),
        )
        return _created(run)


class RunEventsView(APIView):
    @extend_schema(parameters=[EventQuerySerializer], responses=EventPageSerializer)
    def get(self, request: Request, run_id: UUID) -> Response:
        query = EventQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        after, limit = query.validated_data["after"], query.validated_data["limit"]
        run = access_run(request.user, run_id)
        events = list(run.events.filter(seq__gt=after).order_by("seq")[: limit + 1])
        body = {
            "run": run.pk,
            "status": run.status,
            "last_seq": run.last_seq,
            "events": [event.to_json() for event in events[:limit]],
            "more": len(events) > limit,
        }
        return Response(EventPageSerializer(body).data)


class RunOutputView(APIView):
    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request: Request, run_id: UUID, output_id: int) -> HttpResponseBase:
        run = access_run(request.user, run_id)
        output = RunOutput.objects.filter(run=run, pk=output_id, blob_sha__isnull=False).first()
        if output is None or output.blob_sha is None:
            raise NotFound("This run has no such output file.")
        return blob_response(output.blob_sha, output.filename, output.content_type, request)
