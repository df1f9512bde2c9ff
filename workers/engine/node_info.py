"""Per node type lookup tables the engine consults on every node, built once per class."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

import numpy as np

from nodepacks.sdk import InputSpec, Node
from nodepacks.sdk import types as t


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_float(value: Any) -> bool:
    return isinstance(value, float | int) and not isinstance(value, bool)


# Cheap sanity checks of output values, for the types where a wrong value is a common node bug.
OUTPUT_CHECKS: dict[str, Callable[[Any], bool]] = {
    t.INT: _is_int,
    t.FLOAT: _is_float,
    t.STRING: lambda value: isinstance(value, str),
    t.BOOLEAN: lambda value: isinstance(value, bool | np.bool_),
    t.IMAGE: lambda value: isinstance(value, np.ndarray) and value.ndim == 4,
    t.MASK: lambda value: isinstance(value, np.ndarray) and value.ndim == 3,
}

_MEMO_LIMIT = 10_000


@dataclass(slots=True)
class NodeInfo:
    """Inputs by name, defaults of the optional ones, and how to read and check outputs in socket order."""

    inputs: dict[str, InputSpec]
    required: tuple[str, ...]
    defaults: dict[str, Any]
    output_names: tuple[str, ...]
    output_types: tuple[str, ...]
    output_checks: tuple[tuple[int, Callable[[Any], bool]], ...]
    _read: Callable[[Any], Any]
    _checked: dict[Hashable, tuple[Any, str | None]] = field(default_factory=dict)

    def read_outputs(self, outputs: Any) -> tuple[Any, ...]:
        """Return the values of an ``Outputs`` instance in socket order."""
        values = self._read(outputs)
        return (values,) if len(self.output_names) == 1 else values

    def check_constant(self, spec: InputSpec, value: Any) -> tuple[Any, str | None]:
        """``spec.check_constant(value)``, remembered for hashable values: graphs repeat the same constants."""
        try:
            memo_key = (spec.name, type(value), value)
            known = self._checked.get(memo_key)
        except TypeError:  # unhashable (a list or dict): check it every time
            return spec.check_constant(value)
        if known is None:
            known = spec.check_constant(value)
            if len(self._checked) >= _MEMO_LIMIT:
                self._checked.clear()
            self._checked[memo_key] = known
        return known


_infos: dict[type[Node], NodeInfo] = {}
_infos_lock = threading.Lock()


def node_info(node_cls: type[Node]) -> NodeInfo:
    """Return the lookup tables of a node class (built on first use)."""
    info = _infos.get(node_cls)
    if info is None:
        with _infos_lock:
            info = _infos.get(node_cls) or _build(node_cls)
            _infos[node_cls] = info
    return info


def _build(node_cls: type[Node]) -> NodeInfo:
    schema = node_cls.schema()
    names = tuple(node_cls.Outputs.model_fields)
    types = tuple(spec.type for spec in schema.outputs)
    checks = tuple((i, OUTPUT_CHECKS[kind]) for i, kind in enumerate(types) if kind in OUTPUT_CHECKS)
    return NodeInfo(
        inputs={spec.name: spec for spec in schema.inputs},
        required=tuple(spec.name for spec in schema.inputs if spec.required),
        defaults={
            spec.name: spec.default if spec.has_default else None
            for spec in schema.inputs
            if not spec.required
        },
        output_names=names,
        output_types=types,
        output_checks=checks,
        _read=attrgetter(*names) if names else (lambda outputs: ()),
    )
