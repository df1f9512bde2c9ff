"""The caller's ComfyUI queue and history, read from runs: every answer is built from the database rows.

Which prompts a user reaches is decided by the access layer (``backend.accounts.access``), as for the native
API: a prompt is reachable while its run is, so a member removed from a team loses that team's prompts, their
own included. Lists (queue, history, what a socket follows) hold the caller's own reachable prompts; by id a
caller reaches any prompt whose run they may see, a teammate's too.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet
from rest_framework.exceptions import NotFound, PermissionDenied

from backend.accounts.access import Need, access_run, access_run_to_manage, visible_runs
from backend.accounts.models import User
from backend.compat.live import ACTIVE, ADD_MESSAGE_TYPES, PromptTranslator, output_images, translation
from backend.compat.models import ComfyPrompt
from backend.runs.models import NodeRun, Run, RunEvent, RunOutput


def user_prompts(user: User) -> QuerySet[ComfyPrompt]:
    """The user's own ComfyUI prompts whose runs they may still see (``visible_runs``)."""
    # Checked per prompt (EXISTS on the run's id): ``run__in=visible_runs(...)`` made the database list every
    # visible run of the installation first, on every call.
    visible = visible_runs(user).filter(pk=OuterRef("run_id"))
    return ComfyPrompt.objects.filter(Exists(visible), user=user).select_related("run")


def access_prompt(user: User, prompt_id: str, need: Need = Need.VIEW, *, graphs: bool = True) -> ComfyPrompt:
    """Load a prompt by id whose run the user may see (``access_run``), or raise 404 for missing and forbidden
    alike; ``need`` is checked on the run (403)."""
    record = ComfyPrompt.objects.filter(prompt_id=str(prompt_id)).first()
    if record is None:
        raise NotFound("No such prompt.")
    try:
        record.run = access_run(user, record.run_id, need, graphs=graphs)
    except NotFound:
        raise NotFound("No such prompt.") from None
    return record


def manageable_prompt(user: User, prompt_id: str) -> ComfyPrompt | None:
    """The prompt if the user may cancel its run (``access_run_to_manage``), else None (ComfyUI ignores ids it
    cannot act on)."""
    record = ComfyPrompt.objects.filter(prompt_id=str(prompt_id)).first()
    if record is None:
        return None
    try:
        record.run = access_run_to_manage(user, record.run_id)
    except (NotFound, PermissionDenied):
        return None
    return record


def queue_remaining(user: User) -> int:
    """How many of the user's reachable prompts are queued or running."""
    sql, params = _queue_remaining_sql(connection.vendor, user)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return int(row[0]) if row else 0


@functools.lru_cache(maxsize=1024)
def _queue_remaining_sql(vendor: str, user: User) -> tuple[str, tuple[Any, ...]]:
    """``queue_remaining``'s count as SQL, per user (the access rules depend on the user's id alone): a ComfyUI
    socket asks at every new prompt and every finish, and building the query took longer than running it."""
    # The active runs first: the user's history (thousands of prompts) is not walked.
    active = Run.objects.filter(status__in=ACTIVE).values("pk")
    prompts = user_prompts(user).filter(run__in=active).order_by().values("pk")
    sql, params = prompts.query.sql_with_params()
    return f"SELECT COUNT(*) FROM ({sql}) counted", tuple(params)


def active_prompt_runs(user: User) -> set[str]:
    """The runs of the user's reachable prompts that are queued or running (what ``queue_remaining`` counts), as
    hex ids (``uuid.UUID.hex``, what SQLite stores: no conversion per row): a ComfyUI socket counts a prompt off
    when it sends its finish, without asking again."""
    sql, params = _active_runs_sql(connection.vendor, user)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return {value.hex if isinstance(value, uuid.UUID) else value for (value,) in rows}


@functools.lru_cache(maxsize=1024)
def _active_runs_sql(vendor: str, user: User) -> tuple[str, tuple[Any, ...]]:
    """``active_prompt_runs`` as SQL, per user (built once, as ``_queue_remaining_sql``)."""
    active = Run.objects.filter(status__in=ACTIVE).values("pk")
    prompts = user_prompts(user).filter(run__in=active).order_by().values("run_id")
    sql, params = prompts.query.sql_with_params()
    return sql, tuple(params)


def queue(user: User) -> dict[str, list[list[Any]]]:
    """``{queue_running, queue_pending}`` of the user's prompts, pending ones in the order they will start."""
    prompts = list(
        user_prompts(user).filter(run__status__in=ACTIVE).order_by("-run__priority", "number", "created")
    )
    running = [prompt.queue_item() for prompt in prompts if prompt.run.status == Run.Status.RUNNING]
    pending = [prompt.queue_item() for prompt in prompts if prompt.run.status != Run.Status.RUNNING]
    return {"queue_running": running, "queue_pending": pending}


def translator_for(prompt: ComfyPrompt) -> PromptTranslator:
    """A translator for the prompt's run: node types from its rows, constants from its stored graph."""
    run = prompt.run
    nodes = NodeRun.objects.filter(run_id=run.pk).order_by("position").values_list("node_id", "node_type")
    return PromptTranslator(prompt.prompt_id, *translation(list(nodes), run.graph))


def history_entry(prompt: ComfyPrompt) -> dict[str, Any]:
    """One prompt as ComfyUI's ``/history`` shows it: prompt tuple, outputs, status with messages, meta."""
    run = prompt.run
    outputs: dict[str, dict[str, Any]] = {}
    refs: dict[str, list[dict[str, Any]]] = {}
    for output in RunOutput.objects.filter(run_id=run.pk).exclude(kind=RunOutput.Kind.PREVIEW).order_by("id"):
        refs.setdefault(output.node_id, []).append(output.to_ref())
    for node_id, node_refs in refs.items():
        outputs[node_id] = output_images(node_refs, prompt.prompt_id)
    translator = translator_for(prompt)
    messages: list[list[Any]] = []
    for event in RunEvent.objects.filter(run_id=run.pk).order_by("seq"):
        for message in translator.translate(event.to_json()):
            if isinstance(message, dict) and message["type"] in ADD_MESSAGE_TYPES:
                messages.append([message["type"], message["data"]])
    status_str = "success" if run.status == Run.Status.SUCCEEDED else "error"
    return {
        "prompt": prompt.queue_item(),
        "outputs": outputs,
        "status": {
            "status_str": status_str,
            "completed": run.status == Run.Status.SUCCEEDED,
            "messages": messages,
        },
        "meta": {
            node_id: {
                "node_id": node_id,
                "display_node": node_id,
                "parent_node": None,
                "real_node_id": node_id,
            }
            for node_id in outputs
        },
    }


def history(user: User, max_items: int | None = None, offset: int = 0) -> dict[str, Any]:
    """The user's finished prompts, oldest first as ComfyUI's dict order; ``max_items`` keeps the newest."""
    prompts = user_prompts(user).filter(run__status__in=Run.FINISHED).order_by("-created", "-id")
    if offset:
        prompts = prompts[offset:]
    if max_items is not None:
        prompts = prompts[:max_items]
    return {prompt.prompt_id: history_entry(prompt) for prompt in reversed(list(prompts))}
