"""``POST /prompt``: a ComfyUI API-format prompt becomes a Flowyard run, or ComfyUI's validation error shape.

What ComfyUI does and we do alike: unknown class types answer ``invalid_prompt`` naming the type; inputs a node
does not declare are ignored; if some outputs are valid the prompt is queued for those and ``node_errors`` lists
the others (400 only when every output fails). Upload widgets accept ComfyUI's ``"name.png [input]"`` and
``"subfolder/name.png"`` spellings of an upload's name.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import Count

from backend.accounts.exceptions import ApiError
from backend.accounts.models import User, Workspace
from backend.compat.live import NOTICE_NODES, Translation, notify_prompt, translation
from backend.compat.models import ComfyPrompt
from backend.compat.sanitising import sanitise_extra_data
from backend.compat.schemas import input_config
from backend.registry.runtime import LoadedPacks, load_packs
from backend.runs.actions import do_create_run
from backend.runs.graphs import GraphRejected
from backend.runs.models import Run
from backend.runs.nodes import option_sources_for_workspace
from workers.engine import GraphError, NodeRegistry
from workers.engine.validation import OptionSources

ANNOTATION = re.compile(r"\s*\[(input|output|temp)\]$")
MAX_PRIORITY = 10


def comfy_error(
    type_: str, message: str, details: str = "", extra_info: dict | None = None
) -> dict[str, Any]:
    return {"type": type_, "message": message, "details": details, "extra_info": extra_info or {}}


class PromptInvalid(Exception):
    """A prompt ComfyUI would refuse: ``body`` is its 400 answer ``{error, node_errors}``."""

    def __init__(self, error: dict[str, Any], node_errors: dict[str, Any] | None = None) -> None:
        super().__init__(error["message"])
        self.body = {"error": error, "node_errors": node_errors or {}}


@dataclass
class Submitted:
    """A queued prompt: the 200 answer's fields."""

    prompt: ComfyPrompt
    node_errors: dict[str, Any] = field(default_factory=dict)
    translation: Translation | None = None  # for the notice to the user's sockets (``live.NOTICE_NODES``)


def _as_graph(prompt: Mapping[str, Any], registry: NodeRegistry) -> dict[str, Any]:
    """The prompt as a Flowyard graph (API format, ``_meta`` dropped, undeclared inputs dropped, upload names
    normalised); raise ``PromptInvalid`` for ComfyUI's ``invalid_prompt`` cases."""
    nodes: dict[str, Any] = {}
    for node_id, node in prompt.items():
        if not isinstance(node, Mapping) or "class_type" not in node:
            raise PromptInvalid(
                comfy_error(
                    "invalid_prompt",
                    "Cannot execute because a node is missing the class_type property.",
                    f"Node ID '#{node_id}'",
                )
            )
        class_type = node["class_type"]
        entry = registry.get(class_type) if isinstance(class_type, str) else None
        if entry is None:
            raise PromptInvalid(
                comfy_error(
                    "invalid_prompt",
                    f"Cannot execute because node {class_type} does not exist.",
                    f"Node ID '#{node_id}'",
                )
            )
        raw_inputs = node.get("inputs") or {}
        if not isinstance(raw_inputs, Mapping):
            raise PromptInvalid(
                comfy_error("invalid_prompt", "Node inputs must be an object.", f"Node ID '#{node_id}'")
            )
        inputs: dict[str, Any] = {}
        for name, value in raw_inputs.items():
            spec = entry.schema.input(name)
            if spec is None:
                continue  # ComfyUI ignores inputs a node does not declare
            source = str((spec.widget or {}).get("source") or "")
            if source.startswith("uploads.") and isinstance(value, str):
                value = ANNOTATION.sub("", value)
                value = value.rsplit("/", 1)[-1]
            inputs[name] = value
        nodes[str(node_id)] = {"class_type": class_type, "inputs": inputs}
    return nodes


def _dependent_outputs(graph: Mapping[str, Any], outputs: list[str]) -> dict[str, list[str]]:
    """For each node, the output nodes (of ``outputs``) whose upstream closure holds it."""
    found: dict[str, list[str]] = {}
    for output in outputs:
        seen = {output}
        stack = [output]
        while stack:
            node = graph.get(stack.pop())
            if node is None:
                continue
            for value in node["inputs"].values():
                if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str | int):
                    upstream = str(value[0])
                    if upstream not in seen and upstream in graph:
                        seen.add(upstream)
                        stack.append(upstream)
        for node_id in seen:
            found.setdefault(node_id, []).append(output)
    return found


def _node_error(
    error: GraphError, prompt: Mapping[str, Any], registry: NodeRegistry, options: OptionSources
) -> dict[str, Any]:
    """One of our graph errors as a ComfyUI node error entry."""
    name = error.input
    node = prompt.get(error.node or "") or {}
    entry = registry.get(node.get("class_type", "")) if isinstance(node, Mapping) else None
    spec = entry.schema.input(name) if entry is not None and name else None
    received = (node.get("inputs") or {}).get(name) if name else None
    extra: dict[str, Any] = {"input_name": name} if name else {}
    if spec is not None:
        extra["input_config"] = input_config(spec, options)
    if error.code == "missing_input":
        return comfy_error("required_input_missing", "Required input is missing", name or "", extra)
    if error.code == "type_mismatch":
        return comfy_error(
            "return_type_mismatch",
            "Return type mismatch between linked nodes",
            f"{name}, {error.message}",
            extra,
        )
    if error.code in ("missing_link_node", "bad_output_index", "link_not_allowed"):
        extra["received_value"] = received
        return comfy_error(
            "bad_linked_input",
            "Bad linked input, must be a length-2 list of [node_id, slot_index]",
            f"{name}: {error.message}",
            extra,
        )
    if error.code in ("invalid_value", "constant_not_allowed"):
        extra["received_value"] = received
        widget = (spec.widget or {}) if spec is not None else {}
        number = isinstance(received, int | float) and not isinstance(received, bool)
        if number and widget.get("min") is not None and received < widget["min"]:
            message = f"Value {received} smaller than min of {widget['min']}"
            return comfy_error("value_smaller_than_min", message, name or "", extra)
        if number and widget.get("max") is not None and received > widget["max"]:
            message = f"Value {received} bigger than max of {widget['max']}"
            return comfy_error("value_bigger_than_max", message, name or "", extra)
        if widget.get("kind") in ("select", "upload"):
            options_list = extra.get("input_config", [[]])[0]
            shown = f"(list of length {len(options_list)})" if len(options_list) > 20 else str(options_list)
            if len(options_list) > 20:
                extra["input_config"] = None
            return comfy_error(
                "value_not_in_list", "Value not in list", f"{name}: '{received}' not in {shown}", extra
            )
        type_name = spec.type if spec is not None else "value"
        return comfy_error(
            "invalid_input_type",
            f"Failed to convert an input value to a {type_name} value",
            f"{name}, {received}, {error.message}",
            extra,
        )
    return comfy_error("invalid_prompt", error.message, str(error), extra)


def _output_nodes(graph: Mapping[str, Any], registry: NodeRegistry, targets: list[str] | None) -> list[str]:
    outputs = []
    for node_id, node in graph.items():
        entry = registry.get(node["class_type"])
        if entry is not None and entry.schema.output_node and (targets is None or node_id in targets):
            outputs.append(node_id)
    return outputs


# The fields of a POST /prompt body besides "prompt": what each must be when present (ComfyUI ignores wrong
# types silently; a client that sends "number": "abc" is told instead). Numbers stay within JavaScript's safe
# integers so every client reads them back exactly.
MAX_QUEUE_NUMBER = 2**53
BODY_FIELDS: dict[str, tuple[tuple[type, ...], str]] = {
    "number": ((int, float), "a number"),
    "front": ((bool,), "true or false"),
    "client_id": ((str,), "a string"),
    "prompt_id": ((str,), "a string"),
    "extra_data": ((dict,), "an object"),
    "partial_execution_targets": ((list,), "a list of node ids"),
}


def check_body_fields(body: Mapping[str, Any]) -> None:
    """Raise ``ApiError`` (400) naming the first field of a ``/prompt`` body whose type or range is wrong."""
    for name, (types, expected) in BODY_FIELDS.items():
        value = body.get(name)
        if value is None:
            continue
        wrong_bool = isinstance(value, bool) and bool not in types
        if wrong_bool or not isinstance(value, types):
            raise ApiError(f"{name}: must be {expected}, got {type(value).__name__}",
                           [{"field": name, "message": f"must be {expected}"}])  # fmt: skip
    number = body.get("number")
    if number is not None and abs(number) > MAX_QUEUE_NUMBER:
        message = f"must be between -2**53 and 2**53, got {number:g}"
        raise ApiError(f"number: {message}", [{"field": "number", "message": message}])
    targets = body.get("partial_execution_targets") or []
    if not all(isinstance(target, str | int) and not isinstance(target, bool) for target in targets):
        message = "must be a list of node ids (strings)"
        raise ApiError(f"partial_execution_targets: {message}", [{"field": "partial_execution_targets",
                                                                   "message": message}])  # fmt: skip
    for name in ("client_id", "prompt_id"):
        value = body.get(name)
        if isinstance(value, str) and len(value) > 200:
            message = f"at most 200 characters, got {len(value)}"
            raise ApiError(f"{name}: {message}", [{"field": name, "message": message}])


def _workspace_priority(front: bool) -> int:
    return 1 if front else 0


def submit_prompt(
    user: User,
    workspace: Workspace,
    body: Mapping[str, Any],
) -> Submitted:
    """Validate and queue the prompt of a ``POST /prompt`` body; raise ``PromptInvalid`` (a 400 answer)."""
    check_body_fields(body)
    prompt = body.get("prompt")
    if not isinstance(prompt, Mapping):
        raise PromptInvalid(comfy_error("no_prompt", "No prompt provided", "No prompt provided"))
    packs = load_packs(workspace)  # once per prompt: translating, validating and queueing use the same
    registry = packs.registry
    graph = _as_graph(prompt, registry)
    targets = body.get("partial_execution_targets")
    if targets is not None:
        targets = [str(target) for target in targets] if isinstance(targets, list) else None
    outputs = _output_nodes(graph, registry, targets)
    if not outputs:
        raise PromptInvalid(comfy_error("prompt_no_outputs", "Prompt has no outputs"))
    given_extra = body.get("extra_data")
    extra_data: dict[str, Any] = sanitise_extra_data(
        dict(given_extra) if isinstance(given_extra, Mapping) else {}
    )
    client_id = body.get("client_id")
    if isinstance(client_id, str) and client_id:
        extra_data["client_id"] = client_id
    else:
        client_id = ""
    priority = _workspace_priority(bool(body.get("front")))
    with transaction.atomic(durable=True):
        submitted = _submit(
            user, workspace, packs, body, prompt, graph, outputs, extra_data, client_id, priority
        )
        transaction.on_commit(lambda: notify_prompt(submitted.prompt, submitted.translation))
    return submitted


def _submit(
    user: User,
    workspace: Workspace,
    packs: LoadedPacks,
    body: Mapping[str, Any],
    prompt: Mapping[str, Any],
    graph: dict[str, Any],
    outputs: list[str],
    extra_data: dict[str, Any],
    client_id: str,
    priority: int,
) -> Submitted:
    registry = packs.registry
    options = option_sources_for_workspace(workspace)
    node_errors: dict[str, Any] = {}
    try:
        run = _create(user, workspace, packs, graph, outputs, priority)
    except GraphRejected as rejected:
        node_errors = _node_errors(rejected.graph_errors, prompt, graph, outputs, registry, options)
        failing = {output for entry in node_errors.values() for output in entry["dependent_outputs"]}
        top = [error for error in rejected.graph_errors if error.node is None or error.node not in graph]
        good = [output for output in outputs if output not in failing]
        if top or not good:
            lines = [
                f"{error['message']}: {error['details']}"
                for entry in node_errors.values()
                for error in entry["errors"]
            ]
            lines += [str(error) for error in top]
            raise PromptInvalid(
                comfy_error(
                    "prompt_outputs_failed_validation", "Prompt outputs failed validation", "\n".join(lines)
                ),
                node_errors,
            ) from None
        try:
            run = _create(user, workspace, packs, graph, good, priority)
        except GraphRejected as again:
            more = _node_errors(again.graph_errors, prompt, graph, good, registry, options)
            raise PromptInvalid(
                comfy_error("prompt_outputs_failed_validation", "Prompt outputs failed validation"),
                {**node_errors, **more},
            ) from None
        outputs = good
    prompt_id = body.get("prompt_id")
    number = body.get("number")
    if not isinstance(number, int | float) or isinstance(number, bool):
        number = _prompts_of(user.pk)
        if body.get("front"):
            number = -number
    record = ComfyPrompt.objects.create(
        run_id=run.pk,  # not ``run=run``: the two would cache each other, a cycle holding the run's graph
        prompt_id=_prompt_id(prompt_id, run),
        user=user,
        client_id=client_id[:200],
        number=int(number),
        prompt=dict(prompt),  # parsed for this request alone: no copy (a deep one cost ~5 µs a node)
        extra_data=extra_data,
        outputs_to_execute=outputs,
    )
    nodes: list[tuple[str, str]] = run.created_nodes  # type: ignore[attr-defined]  # set by do_create_run
    known = translation(nodes, run.graph) if len(nodes) <= NOTICE_NODES else None
    return Submitted(record, node_errors, known)


def _prompt_id(requested: Any, run: Run) -> str:
    if (
        isinstance(requested, str)
        and 0 < len(requested) <= 100
        and not ComfyPrompt.objects.filter(prompt_id=requested).exists()
    ):
        return requested
    return str(run.pk)


def _prompts_of(user_id: int) -> int:
    """How many prompts the user has (a new prompt's ``number``), by SQL the ORM compiled once per vendor:
    building the ``COUNT`` query cost more than running it, at every prompt of a burst."""
    with connection.cursor() as cursor:
        cursor.execute(_prompts_of_sql(connection.vendor), [user_id])
        row = cursor.fetchone()
    return int(row[0]) if row else 0  # grouped by user: no row for a user without prompts


@functools.cache
def _prompts_of_sql(vendor: str) -> str:
    query = (
        ComfyPrompt.objects.filter(user_id=-1)
        .order_by()
        .values("user_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    sql, params = query.query.sql_with_params()
    assert list(params) == [-1], params
    return sql


def _create(
    user: User, workspace: Workspace, packs: LoadedPacks, graph: dict, outputs: list[str], priority: int
) -> Run:
    return do_create_run(
        user,
        workspace=workspace,
        packs=packs,
        graph=graph,
        outputs=outputs,
        priority=max(-MAX_PRIORITY, min(MAX_PRIORITY, priority)),
        source=Run.Source.COMFY,
    )


def _node_errors(
    errors: list[GraphError],
    prompt: Mapping[str, Any],
    graph: Mapping[str, Any],
    outputs: list[str],
    registry: NodeRegistry,
    options: OptionSources,
) -> dict[str, Any]:
    dependents = _dependent_outputs(graph, outputs)
    node_errors: dict[str, Any] = {}
    for error in errors:
        if error.node is None or error.node not in graph:
            continue
        entry = node_errors.setdefault(
            error.node,
            {
                "errors": [],
                "dependent_outputs": dependents.get(error.node, []),
                "class_type": graph[error.node]["class_type"],
            },
        )
        entry["errors"].append(_node_error(error, prompt, registry, options))
    return node_errors
