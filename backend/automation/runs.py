"""Starting runs for triggers and schedules: the body-to-inputs mapping, and a run as the owner would start it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework.exceptions import APIException, NotFound, PermissionDenied

from backend.accounts.exceptions import ApiError
from backend.accounts.models import User


class RunRefused(ApiError):
    """The run cannot start: the owner lost access, the workflow has no version, or the inputs do not fit."""


def map_inputs(
    body: Any, mapping: Mapping[str, str], exposed: Mapping[str, tuple[str, str]] | None = None
) -> dict[str, dict[str, Any]]:
    """The overrides (``{"node_id": {"input": value}}``) a trigger's JSON body asks for.

    Without a mapping the body *is* the overrides. With one, each ``{"body.field": target}`` entry takes the
    body's value at that dotted path (fields the mapping does not name are ignored; a named field that is missing
    leaves the input as saved). A target is ``"node_id.input"``, or the name of an input the version exposes as an
    app input (``exposed``: name -> (node id, input), from ``exposed_inputs``)."""
    if not isinstance(body, dict):
        raise RunRefused(
            "The body must be a JSON object.", [{"field": "body", "message": "Expected an object."}]
        )
    if not mapping:
        overrides: dict[str, dict[str, Any]] = {}
        for node_id, inputs in body.items():
            if not isinstance(inputs, dict):
                raise RunRefused(
                    f"Node {node_id}: expected an object of input values.",
                    [{"field": f"body.{node_id}", "message": 'Expected {"input name": value}.'}],
                )
            overrides[str(node_id)] = dict(inputs)
        return overrides
    overrides = {}
    for field, target in mapping.items():
        found, value = _lookup(body, field)
        if not found:
            continue
        node_id, dot, input_name = target.rpartition(".")
        if not dot:
            if exposed is None or target not in exposed:
                message = f"{target!r} is not an app input of this version (nor a node_id.input)."
                raise RunRefused(
                    f"mapping.{field}: {message}", [{"field": f"mapping.{field}", "message": message}]
                )
            node_id, input_name = exposed[target]
        overrides.setdefault(node_id, {})[input_name] = value
    return overrides


def exposed_inputs(layout: Any) -> dict[str, tuple[str, str]]:
    """The app inputs a version exposes (its layout's ``app`` section): name -> (node id, input)."""
    section = (layout or {}).get("app") if isinstance(layout, dict) else None
    items = section.get("inputs") if isinstance(section, dict) else None
    return {
        item["name"]: (str(item["node"]), str(item["input"]))
        for item in items or []
        if isinstance(item, dict) and {"name", "node", "input"} <= item.keys()
    }


def check_mapping(mapping: Any) -> dict[str, str]:
    """A mapping table, checked for shape; ``RunRefused`` naming the bad entry."""
    if not isinstance(mapping, dict):
        raise RunRefused(
            "The mapping must be an object.", [{"field": "mapping", "message": "Expected an object."}]
        )
    for field, target in mapping.items():
        ok = isinstance(target, str) and bool(target.strip()) and bool(field)
        if ok and "." in target:
            node_id, _, input_name = target.rpartition(".")
            ok = bool(node_id) and bool(input_name)
        if not ok:
            message = 'Expected "node_id.input" or an app input name.'
            raise RunRefused(
                f"mapping.{field}: {message}", [{"field": f"mapping.{field}", "message": message}]
            )
    return dict(mapping)


def _lookup(body: dict[str, Any], path: str) -> tuple[bool, Any]:
    value: Any = body
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


def start_workflow_run(
    owner: User, workflow_id: int, version: int | None, overrides: Mapping[str, Mapping[str, Any]] | None
) -> Any:
    """Queue a run of the workflow (version ``version``, else the latest) as ``owner``, who must still be
    allowed to run it; counted in their fair use like any run they start. ``RunRefused`` when it cannot start."""
    from backend.accounts.access import Need, access_workflow, access_workflow_version
    from backend.runs import actions
    from backend.runs.models import Run

    try:
        if version is not None:
            found = access_workflow_version(owner, workflow_id, version, Need.RUN)
        else:
            workflow = access_workflow(owner, workflow_id, Need.RUN)
            latest = workflow.latest_version()
            if latest is None:
                raise RunRefused(f"Workflow {workflow_id} has no saved version.", status_code=409)
            latest.workflow = workflow
            found = latest
        return actions.do_create_run(
            owner,
            workspace=found.workflow.workspace,
            workflow_version=found,
            overrides=overrides or None,
            source=Run.Source.API,
        )
    except RunRefused:
        raise
    except (NotFound, PermissionDenied):
        # Whether they lost sight of it or only the run right: the caller learns no more than that.
        raise RunRefused("The owner can no longer run this workflow.", status_code=403) from None
    except APIException as exc:
        errors = getattr(exc, "payload", {}).get("errors", [])
        raise RunRefused(str(exc.detail), errors, status_code=exc.status_code) from None
