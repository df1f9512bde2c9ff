"""An app's exposed inputs resolved against the node schemas, and a request's values turned into overrides.

The app section of the pinned version (``layout.app``) names each input and the node widget it sets; here each
one gets its kind, limits, options and default from the node schema (the app's own limits narrow the node's), so
that the form, the OpenAPI document and the run endpoint's validation all come from one description. Errors
name the app input (``field``), never only the node.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from backend.accounts.exceptions import ApiError
from backend.workflows.documents import default_app_kind
from workers.engine.graph import Link, parse_graph
from workers.engine.registry import NodeRegistry

SEED_MAX = 2**53 - 1
TEXT_MAX_LENGTH = 100_000
FILE_KINDS = ("image", "file")
NUMBER_KINDS = ("number", "integer", "seed")


def input_error(name: str, message: str, status_code: int = 400) -> ApiError:
    """A 4xx naming the app input ``name`` (``errors[0].field``)."""
    return ApiError(f"Input {name!r}: {message}", [{"field": name, "message": message}], status_code)


@dataclass(frozen=True)
class ExposedInput:
    """One input of an app, as its form and endpoint present it."""

    name: str
    node: str
    input: str
    kind: str
    label: str
    help: str
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    default: Any = None
    options: list[Any] | None = None
    source: str | None = None
    required: bool = False

    def to_json(self) -> dict[str, Any]:
        """The description the app view builds its form from."""
        return {
            "name": self.name,
            "kind": self.kind,
            "label": self.label,
            "help": self.help,
            "min": self.minimum,
            "max": self.maximum,
            "step": self.step,
            "default": self.default,
            "options": self.options,
            "source": self.source,
            "required": self.required,
        }

    def json_schema(self) -> dict[str, Any]:
        """The JSON Schema of the value the run endpoint accepts for this input."""
        schema: dict[str, Any]
        if self.kind in FILE_KINDS:
            schema = {
                "oneOf": [
                    {"type": "integer", "description": "An upload id (POST /api/apps/{slug}/uploads)"},
                    {"type": "string", "format": "uri", "description": "A URL on an allowed host"},
                ]
            }
        elif self.kind == "seed":
            schema = {"oneOf": [{"type": "integer", "minimum": 0, "maximum": SEED_MAX}, {"const": "random"}]}
        elif self.kind in ("number", "integer"):
            schema = {"type": "integer" if self.kind == "integer" else "number"}
            if self.minimum is not None:
                schema["minimum"] = self.minimum
            if self.maximum is not None:
                schema["maximum"] = self.maximum
        elif self.kind == "toggle":
            schema = {"type": "boolean"}
        else:
            schema = {"type": "string"}
            if self.options:
                schema["enum"] = list(self.options)
        schema["title"] = self.label
        if self.help:
            schema["description"] = self.help
        if self.default is not None:
            schema["default"] = self.default
        return schema


@dataclass(frozen=True)
class ExposedOutput:
    name: str
    node: str
    label: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "node": self.node, "label": self.label}


def _pick(own: Any, node: Any, choose: Callable[[float, float], float]) -> float | None:
    if own is None:
        return node if isinstance(node, int | float) and not isinstance(node, bool) else None
    if isinstance(node, int | float) and not isinstance(node, bool):
        return choose(own, node)
    return own


@dataclass
class AppSpec:
    """An app's inputs and outputs, resolved once per request against the workspace's node registry."""

    inputs: list[ExposedInput] = field(default_factory=list)
    outputs: list[ExposedOutput] = field(default_factory=list)

    def by_name(self) -> dict[str, ExposedInput]:
        return {item.name: item for item in self.inputs}


def resolve_spec(
    section: Mapping[str, Any], graph_json: Mapping[str, Any], registry: NodeRegistry
) -> AppSpec:
    """Resolve an app section against its graph and the node registry; raise ``ApiError`` naming the input when
    an exposed input is not (any more) a widget of an installed node type."""
    graph = parse_graph(dict(graph_json))
    spec = AppSpec()
    for item in section.get("inputs") or []:
        name = item["name"]
        node = graph.nodes.get(item["node"])
        if node is None:
            raise input_error(name, f"the pinned version has no node {item['node']!r}.")
        entry = registry.get(node.type)
        if entry is None:
            raise input_error(name, f"node {item['node']} is a {node.type}, which this workspace lacks.")
        schema = next((s for s in entry.schema.inputs if s.name == item["input"]), None)
        if schema is None or schema.widget is None or not schema.accepts_constant:
            raise input_error(name, f"{node.type}.{item['input']} is not a widget.")
        widget = schema.widget
        current = node.inputs.get(item["input"])
        default = item.get("default")
        if default is None and current is not None and not isinstance(current, Link):
            default = current
        if default is None and schema.has_default:
            default = schema.default
        kind = item.get("kind") or default_app_kind(widget, schema.type)
        minimum = _pick(item.get("min"), widget.get("min"), max)
        maximum = _pick(item.get("max"), widget.get("max"), min)
        options = widget.get("options") if kind in ("select", "model") else None
        spec.inputs.append(
            ExposedInput(
                name=name,
                node=item["node"],
                input=item["input"],
                kind=kind,
                label=item.get("label") or name.replace("_", " ").capitalize(),
                help=item.get("help") or schema.tooltip or "",
                minimum=minimum,
                maximum=maximum,
                step=item.get("step") or widget.get("step"),
                default=default,
                options=list(options) if options else None,
                source=widget.get("source"),
                required=default is None and schema.required,
            )
        )
    for output in section.get("outputs") or []:
        spec.outputs.append(
            ExposedOutput(
                name=output["name"],
                node=output["node"],
                label=output.get("label") or output["name"].replace("_", " ").capitalize(),
            )
        )
    return spec


FileResolver = Callable[[ExposedInput, Any], str]


def check_value(item: ExposedInput, value: Any) -> Any:
    """The value for ``item`` as the node takes it (a "random" seed drawn), or raise ``ApiError`` naming it."""
    name = item.name
    if item.kind in NUMBER_KINDS:
        if item.kind == "seed" and value == "random":
            low = int(item.minimum) if item.minimum is not None else 0
            high = int(item.maximum) if item.maximum is not None else SEED_MAX
            return low + secrets.randbelow(max(high - low, 0) + 1)
        whole = item.kind in ("integer", "seed")
        if isinstance(value, bool) or not isinstance(value, int | float):
            expected = "an integer" if whole else "a number"
            extra = ' or "random"' if item.kind == "seed" else ""
            raise input_error(name, f"expected {expected}{extra}, got {type(value).__name__}.")
        if whole and isinstance(value, float):
            if not value.is_integer():
                raise input_error(name, f"expected an integer, got {value}.")
            value = int(value)
        if item.minimum is not None and value < item.minimum:
            raise input_error(name, f"{value} is below the minimum {item.minimum}.")
        if item.maximum is not None and value > item.maximum:
            raise input_error(name, f"{value} is above the maximum {item.maximum}.")
        return value
    if item.kind == "toggle":
        if not isinstance(value, bool):
            raise input_error(name, f"expected true or false, got {type(value).__name__}.")
        return value
    if not isinstance(value, str):
        raise input_error(name, f"expected a string, got {type(value).__name__}.")
    if len(value) > TEXT_MAX_LENGTH:
        raise input_error(name, f"{len(value):,} characters, more than {TEXT_MAX_LENGTH:,}.")
    if item.options and value not in item.options:
        raise input_error(name, f"{value!r} is not one of the choices ({', '.join(map(str, item.options))}).")
    return value


def overrides_for(
    spec: AppSpec, body: Any, resolve_file: FileResolver
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """``{node: {input: value}}`` overrides for a request body, and the inputs as resolved (for the record).

    Inputs left out keep their default; unknown names, wrong types and values out of limits raise ``ApiError``
    naming the input. Files (upload ids or URLs) are turned into upload names by ``resolve_file``.
    """
    if not isinstance(body, dict):
        raise ApiError(
            "The body must be a JSON object of the app's inputs.",
            [{"field": "body", "message": "not an object"}],
        )
    known = spec.by_name()
    unknown = sorted(set(body) - set(known))
    if unknown:
        names = ", ".join(repr(name) for name in unknown)
        errors = [{"field": name, "message": "not an input of this app"} for name in unknown]
        raise ApiError(f"Not inputs of this app: {names} (it takes {', '.join(known) or 'none'}).", errors)
    overrides: dict[str, dict[str, Any]] = {}
    resolved: dict[str, Any] = {}
    for item in spec.inputs:
        if item.name in body and body[item.name] is not None:
            raw = body[item.name]
        elif item.default is not None:
            raw = item.default
        elif item.required:
            raise input_error(item.name, "is required.")
        else:
            continue
        if item.kind in FILE_KINDS:
            value = resolve_file(item, raw) if item.name in body else raw
        else:
            value = check_value(item, raw)
        resolved[item.name] = value
        overrides.setdefault(item.node, {})[item.input] = value
    return overrides, resolved


def name_graph_errors(exc: ApiError, spec: AppSpec) -> ApiError:
    """A run's graph errors with the app input each one is about (``field``), when it is an exposed one."""
    by_target = {(item.node, item.input): item.name for item in spec.inputs}
    errors = []
    first_named = None
    for error in exc.payload.get("errors") or []:
        name = by_target.get((error.get("node"), error.get("input")))
        if name is not None:
            error = {**error, "field": name}
            first_named = first_named or f"Input {name!r}: {error.get('message', '')}"
        errors.append(error)
    return ApiError(first_named or str(exc.detail), errors, exc.status_code)
