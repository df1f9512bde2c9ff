"""Control-flow helpers: pick a value by condition, take the first value present, boolean algebra."""

from __future__ import annotations

from typing import Any

from nodepacks import sdk


def is_empty(value: Any) -> bool:
    """True for values that count as "nothing": None, "", and empty lists and dicts."""
    return value is None or (isinstance(value, str | list | tuple | dict) and len(value) == 0)


class SwitchValue(sdk.Node):
    """Pass on if_true when the condition holds, if_false otherwise. Returns the chosen value (ANY)."""

    id = "SwitchValue"
    display_name = "Switch"
    category = "logic"

    class Inputs(sdk.Inputs):
        condition: bool = sdk.toggle(True)
        if_true: sdk.AnyValue = sdk.link(optional=True, tooltip="Returned when the condition is true")
        if_false: sdk.AnyValue = sdk.link(optional=True, tooltip="Returned when the condition is false")

    class Outputs(sdk.Outputs):
        value: sdk.AnyValue

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        name = "if_true" if inputs.condition else "if_false"
        value = getattr(inputs, name)
        if value is None:
            raise sdk.NodeError(f"the condition is {inputs.condition} but nothing is connected to {name}")
        return self.Outputs(value=value)


class FirstNonEmpty(sdk.Node):
    """The first of the inputs that is connected and not empty ("", [] or {}). Returns it (ANY)."""

    id = "FirstNonEmpty"
    display_name = "First Non-Empty"
    category = "logic"

    class Inputs(sdk.Inputs):
        value_1: sdk.AnyValue = sdk.link(optional=True)
        value_2: sdk.AnyValue = sdk.link(optional=True)
        value_3: sdk.AnyValue = sdk.link(optional=True)
        value_4: sdk.AnyValue = sdk.link(optional=True)

    class Outputs(sdk.Outputs):
        value: sdk.AnyValue

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        for name in ("value_1", "value_2", "value_3", "value_4"):
            value = getattr(inputs, name)
            if not is_empty(value):
                return self.Outputs(value=value)
        raise sdk.NodeError("all four inputs are empty or not connected")


class BooleanLogic(sdk.Node):
    """Combine two booleans with and, or, xor, nand or nor. Returns BOOLEAN."""

    id = "BooleanLogic"
    display_name = "Boolean Logic"
    category = "logic"

    class Inputs(sdk.Inputs):
        a: bool = sdk.toggle(False)
        b: bool = sdk.toggle(False)
        operation: str = sdk.select(options=["and", "or", "xor", "nand", "nor"])

    class Outputs(sdk.Outputs):
        result: bool

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        a, b = inputs.a, inputs.b
        results = {"and": a and b, "or": a or b, "xor": a != b, "nand": not (a and b), "nor": not (a or b)}
        if inputs.operation not in results:
            raise sdk.NodeError(f"unknown operation {inputs.operation!r}; use one of {', '.join(results)}")
        return self.Outputs(result=results[inputs.operation])


class BooleanNot(sdk.Node):
    """The opposite of the input. Returns BOOLEAN."""

    id = "BooleanNot"
    display_name = "Not"
    category = "logic"

    class Inputs(sdk.Inputs):
        value: bool = sdk.toggle(False)

    class Outputs(sdk.Outputs):
        result: bool

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(result=not inputs.value)


NODES: list[type[sdk.Node]] = [SwitchValue, FirstNonEmpty, BooleanLogic, BooleanNot]
