"""Helpers for testing nodes without an engine: ``run_node(MyNode, a=1, b=2)``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nodepacks.sdk.context import Context, FileProvider, ModelProvider
from nodepacks.sdk.node import UI, Node, Outputs, Result


class NodeInputError(ValueError):
    """An input given to ``run_node`` that the node's schema rejects."""


@dataclass
class NodeOutcome:
    """What a node returned: its outputs (or None) and its UI data."""

    outputs: Any
    ui: UI

    def __getitem__(self, name: str) -> Any:
        return getattr(self.outputs, name)


def run_node(
    node_cls: type[Node],
    *,
    files: FileProvider | None = None,
    models: ModelProvider | None = None,
    ctx: Context | None = None,
    **values: Any,
) -> NodeOutcome:
    """Validate ``values`` against the node's schema the way the engine does, execute, return the outcome."""
    schema = node_cls.schema()
    prepared: dict[str, Any] = {}
    for spec in schema.inputs:
        if spec.name in values:
            value = values.pop(spec.name)
            if spec.adapter is not None and spec.accepts_constant and not _is_media(value):
                value, error = spec.check_constant(value)
                if error:
                    raise NodeInputError(f"{schema.id}.{spec.name}: {error}")
            prepared[spec.name] = value
        elif spec.required:
            raise NodeInputError(f"{schema.id}.{spec.name}: required input is missing")
    if values:
        raise NodeInputError(f"{schema.id}: unknown inputs {sorted(values)}")
    context = ctx or Context(node_id="test", files=files, models=models)
    result = node_cls().execute(node_cls.Inputs.model_construct(**prepared), context)
    if isinstance(result, Result):
        return NodeOutcome(outputs=result.outputs, ui=result.ui)
    if isinstance(result, Outputs) or result is None:
        return NodeOutcome(outputs=result, ui=UI())
    raise TypeError(f"{schema.id}.execute returned {type(result).__name__}, not Outputs or Result")


def _is_media(value: Any) -> bool:
    return not isinstance(value, str | int | float | bool | list | dict | type(None))
