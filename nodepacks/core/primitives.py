"""Constant values: ComfyUI's Primitive* nodes plus a Seed whose widget changes after each run."""

from __future__ import annotations

import sys

from nodepacks import sdk

_INT_LIMIT = sys.maxsize  # ComfyUI bounds its primitives by sys.maxsize


class PrimitiveInt(sdk.Node):
    """A whole number typed into the node. Returns INT."""

    id = "PrimitiveInt"
    display_name = "Int"
    category = "primitives"

    class Inputs(sdk.Inputs):
        value: int = sdk.number(0, min=-_INT_LIMIT, max=_INT_LIMIT)

    class Outputs(sdk.Outputs):
        value: int

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(value=inputs.value)


class PrimitiveFloat(sdk.Node):
    """A decimal number typed into the node. Returns FLOAT."""

    id = "PrimitiveFloat"
    display_name = "Float"
    category = "primitives"

    class Inputs(sdk.Inputs):
        value: float = sdk.number(0.0, min=-_INT_LIMIT, max=_INT_LIMIT, step=0.1)

    class Outputs(sdk.Outputs):
        value: float

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(value=inputs.value)


class PrimitiveString(sdk.Node):
    """A line of text typed into the node. Returns STRING."""

    id = "PrimitiveString"
    display_name = "String"
    category = "primitives"

    class Inputs(sdk.Inputs):
        value: str = sdk.text("")

    class Outputs(sdk.Outputs):
        value: str

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(value=inputs.value)


class PrimitiveStringMultiline(sdk.Node):
    """Several lines of text typed into the node. Returns STRING."""

    id = "PrimitiveStringMultiline"
    display_name = "String (Multiline)"
    category = "primitives"

    class Inputs(sdk.Inputs):
        value: str = sdk.text("", multiline=True)

    class Outputs(sdk.Outputs):
        value: str

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(value=inputs.value)


class PrimitiveBoolean(sdk.Node):
    """A true/false switch. Returns BOOLEAN."""

    id = "PrimitiveBoolean"
    display_name = "Boolean"
    category = "primitives"

    class Inputs(sdk.Inputs):
        value: bool = sdk.toggle(False)

    class Outputs(sdk.Outputs):
        value: bool

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(value=inputs.value)


class Seed(sdk.Node):
    """A random seed that the editor randomizes, increments or keeps after each run. Returns INT."""

    id = "Seed"
    category = "primitives"

    class Inputs(sdk.Inputs):
        seed: int = sdk.seed(0, tooltip="Feed this into every node that should share one seed")

    class Outputs(sdk.Outputs):
        seed: int

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(seed=inputs.seed)


NODES: list[type[sdk.Node]] = [
    PrimitiveInt,
    PrimitiveFloat,
    PrimitiveString,
    PrimitiveStringMultiline,
    PrimitiveBoolean,
    Seed,
]
