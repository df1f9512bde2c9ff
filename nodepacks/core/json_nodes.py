"""JSON nodes: parse and dump text, read and write values by a dotted path such as ``items.0.name``.

Values are never modified in place: JSONSet returns a new object, so cached upstream results stay intact.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from nodepacks import sdk

_PATH_TOOLTIP = "Keys and list indexes separated by dots, e.g. 'items.0.name'; empty means the whole value"


def _steps(path: str) -> list[str]:
    return path.split(".") if path else []


def _index(container: list[Any], step: str, where: str) -> int:
    try:
        index = int(step)
    except ValueError:
        raise sdk.NodeError(f"{where} is a list, so {step!r} must be an index like 0 or -1") from None
    if not -len(container) <= index < len(container):
        raise sdk.NodeError(f"index {index} is out of range at {where} (the list has {len(container)} items)")
    return index


def get_path(data: Any, path: str) -> Any:
    """Return the value at ``path`` inside ``data``; raise a NodeError naming the first step that is missing."""
    current = data
    walked = "the root"
    for step in _steps(path):
        if isinstance(current, dict):
            if step not in current:
                raise sdk.NodeError(f"key {step!r} not found at {walked}")
            current = current[step]
        elif isinstance(current, list):
            current = current[_index(current, step, walked)]
        else:
            raise sdk.NodeError(
                f"cannot look up {step!r}: {walked} is {type(current).__name__}, not an object"
            )
        walked = step if walked == "the root" else f"{walked}.{step}"
    return current


def set_path(data: Any, path: str, value: Any) -> Any:
    """Return a deep copy of ``data`` with ``value`` at ``path``; missing object keys are created.

    An index equal to a list's length appends.
    """
    steps = _steps(path)
    if not steps:
        return copy.deepcopy(value)
    root = copy.deepcopy(data)
    current = root
    walked = "the root"
    for position, step in enumerate(steps):
        last = position == len(steps) - 1
        if isinstance(current, dict):
            if last:
                current[step] = copy.deepcopy(value)
            else:
                current = current.setdefault(step, {})
        elif isinstance(current, list):
            if step.lstrip("-").isdigit() and int(step) == len(current):
                current.append(copy.deepcopy(value) if last else {})
                current = current[-1]
            else:
                index = _index(current, step, walked)
                if last:
                    current[index] = copy.deepcopy(value)
                else:
                    current = current[index]
        else:
            raise sdk.NodeError(
                f"cannot set {step!r}: {walked} is {type(current).__name__}, not an object or list"
            )
        walked = step if walked == "the root" else f"{walked}.{step}"
    return root


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class JSONParse(sdk.Node):
    """Parse JSON text into a value. Returns JSON."""

    id = "JSONParse"
    display_name = "Parse JSON"
    category = "json"

    class Inputs(sdk.Inputs):
        text: str = sdk.text('{"key": "value"}', multiline=True)

    class Outputs(sdk.Outputs):
        value: sdk.JSONValue

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        try:
            return self.Outputs(value=json.loads(inputs.text))
        except json.JSONDecodeError as exc:
            raise sdk.NodeError(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None


class JSONGet(sdk.Node):
    """The value at a path inside JSON data. Returns it as JSON and as text (strings as is, others dumped)."""

    id = "JSONGet"
    display_name = "Get JSON Value"
    category = "json"

    class Inputs(sdk.Inputs):
        data: sdk.JSONValue = sdk.link()
        path: str = sdk.text("", tooltip=_PATH_TOOLTIP)
        default: sdk.JSONValue | None = sdk.link(
            optional=True, tooltip="Returned when the path is missing; without it a missing path is an error"
        )

    class Outputs(sdk.Outputs):
        value: sdk.JSONValue
        text: str

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        try:
            value = get_path(inputs.data, inputs.path)
        except sdk.NodeError:
            if inputs.default is None:
                raise
            value = inputs.default
        return self.Outputs(value=value, text=_as_text(value))


class JSONSet(sdk.Node):
    """A copy of the JSON data with the value put at a path (missing keys are created). Returns JSON."""

    id = "JSONSet"
    display_name = "Set JSON Value"
    category = "json"

    class Inputs(sdk.Inputs):
        data: sdk.JSONValue = sdk.link()
        path: str = sdk.text("", tooltip=_PATH_TOOLTIP + "; index = list length appends")
        value: sdk.JSONValue = sdk.link()

    class Outputs(sdk.Outputs):
        data: sdk.JSONValue

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(data=set_path(inputs.data, inputs.path, inputs.value))


class JSONDump(sdk.Node):
    """JSON data written out as text. Returns STRING."""

    id = "JSONDump"
    display_name = "JSON to Text"
    category = "json"

    class Inputs(sdk.Inputs):
        data: sdk.JSONValue = sdk.link()
        indent: int = sdk.number(2, min=0, max=8, tooltip="Spaces per level; 0 writes one compact line")
        sort_keys: bool = sdk.toggle(False)

    class Outputs(sdk.Outputs):
        text: str

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        try:
            text = json.dumps(
                inputs.data, indent=inputs.indent or None, sort_keys=inputs.sort_keys, ensure_ascii=False
            )
        except (TypeError, ValueError) as exc:
            raise sdk.NodeError(f"the value is not JSON: {exc}") from None
        return self.Outputs(text=text)


NODES: list[type[sdk.Node]] = [JSONParse, JSONGet, JSONSet, JSONDump]
