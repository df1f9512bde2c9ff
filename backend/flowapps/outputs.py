"""What an app run answers: its status, progress and exposed outputs with signed, expiring download URLs."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import signing
from django.urls import reverse

from backend.flowapps.inputs import AppSpec
from backend.flowapps.models import App, AppRun
from backend.runs.models import NodeRun, Run, RunOutput

_SALT = "flowapps.output"


def sign_output(output: RunOutput) -> str:
    """A token naming one run output, valid for ``FLOWYARD_APP_DOWNLOAD_URL_MAX_AGE`` seconds."""
    return signing.TimestampSigner(salt=_SALT).sign(str(output.pk))


def unsign_output(token: str) -> int | None:
    """The run output id a token names, or None when it is forged or expired."""
    try:
        value = signing.TimestampSigner(salt=_SALT).unsign(
            token, max_age=int(settings.FLOWYARD_APP_DOWNLOAD_URL_MAX_AGE)
        )
    except signing.BadSignature:
        return None
    return int(value) if value.isdigit() else None


def _output_json(app: App, output: RunOutput, absolute: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"id": output.pk, "kind": output.kind, "node": output.node_id}
    if output.has_file():
        path = reverse("app-output", args=[app.slug, sign_output(output)])
        data.update(
            url=absolute(path), filename=output.filename, content_type=output.content_type, size=output.size
        )
    if output.kind == RunOutput.Kind.TEXT:
        data["text"] = output.text
    elif output.kind == RunOutput.Kind.JSON:
        data["data"] = output.data
    return data


def run_answer(app: App, app_run: AppRun, spec: AppSpec, absolute: Any) -> dict[str, Any]:
    """The JSON of ``GET /api/apps/<slug>/runs/<id>``: outputs grouped by exposed output name (every output
    node's results under its node id when the app names none). ``absolute`` makes a path a full URL."""
    run: Run = app_run.run  # type: ignore[assignment]
    counts = {"total": 0, "finished": 0}
    for status in NodeRun.objects.filter(run=run).values_list("status", flat=True):
        counts["total"] += 1
        counts["finished"] += status not in (NodeRun.Status.QUEUED, NodeRun.Status.RUNNING)
    outputs: dict[str, list[dict[str, Any]]] = {}
    named = {output.node: output.name for output in spec.outputs}
    rows = RunOutput.objects.filter(run=run).exclude(kind=RunOutput.Kind.PREVIEW).order_by("id")
    for output in rows:  # results so far: a running run already shows what finished nodes made
        name = named.get(output.node_id) if named else output.node_id
        if name is not None:
            outputs.setdefault(name, []).append(_output_json(app, output, absolute))
    return {
        "id": str(run.pk),
        "app": app.slug,
        "status": run.status,
        "created": run.created.isoformat(),
        "finished": run.finished.isoformat() if run.finished else None,
        "error": run.error,
        "progress": counts,
        "inputs": app_run.inputs,
        "outputs": outputs,
        "via": app_run.via,
    }
