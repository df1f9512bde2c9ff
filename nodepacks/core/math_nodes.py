"""Arithmetic and comparison on INT and FLOAT, with errors that say what went wrong instead of NaN or crashes."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable

from nodepacks import sdk

OPERATIONS = ("add", "subtract", "multiply", "divide", "modulo", "power", "min", "max")
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_MAX_INT_BITS = 4096  # a bound on INT results: 2**10**9 would otherwise stall the worker


class IntMath(sdk.Node):
    """Apply an arithmetic operation to two whole numbers. Returns INT.

    divide rounds down (floor division) and modulo takes the sign of b, as in Python.
    """

    id = "IntMath"
    display_name = "Math (Int)"
    category = "math"

    class Inputs(sdk.Inputs):
        a: int = sdk.number(0)
        b: int = sdk.number(0)
        operation: str = sdk.select(options=OPERATIONS)

    class Outputs(sdk.Outputs):
        result: int

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        a, b, op = inputs.a, inputs.b, inputs.operation
        if op in ("divide", "modulo") and b == 0:
            raise sdk.NodeError(f"cannot {op} {a} by zero (b is 0)")
        if op == "power":
            if b < 0:
                raise sdk.NodeError(
                    f"{a} to the power {b} is a fraction; use FloatMath for negative exponents"
                )
            if abs(a) > 1 and b * math.log2(abs(a)) > _MAX_INT_BITS:
                raise sdk.NodeError(f"{a} to the power {b} is too large (over {_MAX_INT_BITS} bits)")
        results: dict[str, Callable[[int, int], int]] = {
            "add": operator.add,
            "subtract": operator.sub,
            "multiply": operator.mul,
            "divide": operator.floordiv,
            "modulo": operator.mod,
            "power": operator.pow,
            "min": min,
            "max": max,
        }
        if op not in results:
            raise sdk.NodeError(f"unknown operation {op!r}; use one of {', '.join(OPERATIONS)}")
        return self.Outputs(result=results[op](a, b))


class FloatMath(sdk.Node):
    """Apply an arithmetic operation to two decimal numbers. Returns FLOAT (always finite)."""

    id = "FloatMath"
    display_name = "Math (Float)"
    category = "math"

    class Inputs(sdk.Inputs):
        a: float = sdk.number(0.0, step=0.01)
        b: float = sdk.number(0.0, step=0.01)
        operation: str = sdk.select(options=OPERATIONS)

    class Outputs(sdk.Outputs):
        result: float

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        a, b, op = inputs.a, inputs.b, inputs.operation
        if op in ("divide", "modulo") and b == 0:
            raise sdk.NodeError(f"cannot {op} {a} by zero (b is 0)")
        results: dict[str, Callable[[float, float], float]] = {
            "add": operator.add,
            "subtract": operator.sub,
            "multiply": operator.mul,
            "divide": operator.truediv,
            "modulo": math.fmod,
            "power": math.pow,
            "min": min,
            "max": max,
        }
        if op not in results:
            raise sdk.NodeError(f"unknown operation {op!r}; use one of {', '.join(OPERATIONS)}")
        try:
            result = results[op](a, b)
        except (ValueError, OverflowError, ZeroDivisionError):
            result = math.nan
        if not math.isfinite(result):
            raise sdk.NodeError(f"{op} of {a} and {b} has no finite result")
        return self.Outputs(result=result)


class IntCompare(sdk.Node):
    """Compare two whole numbers. Returns BOOLEAN."""

    id = "IntCompare"
    display_name = "Compare (Int)"
    category = "math"

    class Inputs(sdk.Inputs):
        a: int = sdk.number(0)
        b: int = sdk.number(0)
        comparison: str = sdk.select(options=list(COMPARISONS), tooltip="True when 'a <comparison> b' holds")

    class Outputs(sdk.Outputs):
        result: bool

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(result=_compare(inputs.a, inputs.b, inputs.comparison))


class FloatCompare(sdk.Node):
    """Compare two decimal numbers. Returns BOOLEAN."""

    id = "FloatCompare"
    display_name = "Compare (Float)"
    category = "math"

    class Inputs(sdk.Inputs):
        a: float = sdk.number(0.0, step=0.01)
        b: float = sdk.number(0.0, step=0.01)
        comparison: str = sdk.select(options=list(COMPARISONS), tooltip="True when 'a <comparison> b' holds")

    class Outputs(sdk.Outputs):
        result: bool

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(result=_compare(inputs.a, inputs.b, inputs.comparison))


def _compare(a: float, b: float, comparison: str) -> bool:
    if comparison not in COMPARISONS:
        raise sdk.NodeError(f"unknown comparison {comparison!r}; use one of {' '.join(COMPARISONS)}")
    return COMPARISONS[comparison](a, b)


class FloatToInt(sdk.Node):
    """Turn a decimal number into a whole number by rounding, flooring, ceiling or truncating. Returns INT."""

    id = "FloatToInt"
    display_name = "Float to Int"
    category = "math"

    class Inputs(sdk.Inputs):
        value: float = sdk.number(0.0, step=0.01)
        mode: str = sdk.select(
            options=["round", "floor", "ceil", "truncate"], tooltip="round sends halves to the even neighbour"
        )

    class Outputs(sdk.Outputs):
        value: int

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        modes: dict[str, Callable[[float], int]] = {
            "round": round,
            "floor": math.floor,
            "ceil": math.ceil,
            "truncate": math.trunc,
        }
        return self.Outputs(value=modes[inputs.mode](inputs.value))


class IntToFloat(sdk.Node):
    """Turn a whole number into a decimal number. Returns FLOAT."""

    id = "IntToFloat"
    display_name = "Int to Float"
    category = "math"

    class Inputs(sdk.Inputs):
        value: int = sdk.number(0)

    class Outputs(sdk.Outputs):
        value: float

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(value=float(inputs.value))


class FloatClamp(sdk.Node):
    """Limit a decimal number to the range [min, max]. Returns FLOAT."""

    id = "FloatClamp"
    display_name = "Clamp (Float)"
    category = "math"

    class Inputs(sdk.Inputs):
        value: float = sdk.number(0.0, step=0.01)
        min: float = sdk.number(0.0, step=0.01)
        max: float = sdk.number(1.0, step=0.01)

    class Outputs(sdk.Outputs):
        value: float

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        if inputs.min > inputs.max:
            raise sdk.NodeError(f"min ({inputs.min}) is greater than max ({inputs.max})")
        return self.Outputs(value=min(max(inputs.value, inputs.min), inputs.max))


NODES: list[type[sdk.Node]] = [
    IntMath,
    FloatMath,
    IntCompare,
    FloatCompare,
    FloatToInt,
    IntToFloat,
    FloatClamp,
]
