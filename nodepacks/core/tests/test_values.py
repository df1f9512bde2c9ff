"""Primitives, math, logic and the text preview."""

import numpy as np
import pytest

from nodepacks import sdk
from nodepacks.core.logic import BooleanLogic, BooleanNot, FirstNonEmpty, SwitchValue
from nodepacks.core.math_nodes import (
    FloatClamp,
    FloatCompare,
    FloatMath,
    FloatToInt,
    IntCompare,
    IntMath,
    IntToFloat,
)
from nodepacks.core.preview import PreviewAny
from nodepacks.core.primitives import (
    PrimitiveBoolean,
    PrimitiveFloat,
    PrimitiveInt,
    PrimitiveStringMultiline,
    Seed,
)
from nodepacks.sdk.testing import NodeInputError, run_node


def test_primitives_pass_their_value_through():
    assert run_node(PrimitiveInt, value=-7)["value"] == -7
    assert run_node(PrimitiveFloat, value=2.5)["value"] == 2.5
    assert run_node(PrimitiveStringMultiline, value="a\nb")["value"] == "a\nb"
    assert run_node(PrimitiveBoolean, value=True)["value"] is True
    assert run_node(Seed, seed=42)["seed"] == 42


def test_seed_uses_the_seed_widget():
    spec = Seed.schema().input("seed")
    assert spec is not None and spec.widget is not None and spec.widget["kind"] == "seed"
    with pytest.raises(NodeInputError):
        run_node(Seed, seed=-1)


@pytest.mark.parametrize(
    ("operation", "a", "b", "expected"),
    [
        ("add", 7, 3, 10),
        ("subtract", 7, 3, 4),
        ("multiply", 7, -3, -21),
        ("divide", 7, 2, 3),
        ("divide", -7, 2, -4),  # floor division
        ("modulo", -7, 3, 2),
        ("power", 2, 10, 1024),
        ("min", 7, 3, 3),
        ("max", 7, 3, 7),
    ],
)
def test_int_math(operation, a, b, expected):
    assert run_node(IntMath, a=a, b=b, operation=operation)["result"] == expected


@pytest.mark.parametrize("operation", ["divide", "modulo"])
def test_int_math_names_division_by_zero(operation):
    with pytest.raises(sdk.NodeError, match=f"cannot {operation} 5 by zero"):
        run_node(IntMath, a=5, b=0, operation=operation)


def test_int_power_refuses_fractions_and_huge_results():
    with pytest.raises(sdk.NodeError, match="use FloatMath"):
        run_node(IntMath, a=2, b=-1, operation="power")
    with pytest.raises(sdk.NodeError, match="too large"):
        run_node(IntMath, a=10, b=10**6, operation="power")


@pytest.mark.parametrize(
    ("operation", "expected"),
    [
        ("add", 8.5),
        ("subtract", 3.5),
        ("multiply", 15.0),
        ("divide", 2.4),
        ("modulo", 1.0),
        ("power", 6.0**2.5),
    ],
)
def test_float_math(operation, expected):
    assert run_node(FloatMath, a=6.0, b=2.5, operation=operation)["result"] == pytest.approx(expected)


def test_float_math_errors_instead_of_nan_or_infinity():
    with pytest.raises(sdk.NodeError, match="cannot divide 1.0 by zero"):
        run_node(FloatMath, a=1.0, b=0.0, operation="divide")
    with pytest.raises(sdk.NodeError, match="no finite result"):
        run_node(FloatMath, a=-8.0, b=0.5, operation="power")
    with pytest.raises(sdk.NodeError, match="no finite result"):
        run_node(FloatMath, a=10.0, b=400.0, operation="power")


def test_math_rejects_an_unknown_operation():
    with pytest.raises(NodeInputError, match="not one of the options"):
        run_node(IntMath, a=1, b=2, operation="xor")


@pytest.mark.parametrize(
    ("comparison", "expected"),
    [("==", False), ("!=", True), ("<", True), ("<=", True), (">", False), (">=", False)],
)
def test_comparisons(comparison, expected):
    assert run_node(IntCompare, a=2, b=3, comparison=comparison)["result"] is expected
    assert run_node(FloatCompare, a=2.0, b=3.0, comparison=comparison)["result"] is expected


def test_conversions_and_clamp():
    assert [
        run_node(FloatToInt, value=-2.5, mode=m)["value"] for m in ("round", "floor", "ceil", "truncate")
    ] == [
        -2,
        -3,
        -2,
        -2,
    ]
    assert run_node(IntToFloat, value=3)["value"] == 3.0
    assert run_node(FloatClamp, value=1.7, min=0.0, max=1.0)["value"] == 1.0
    assert run_node(FloatClamp, value=-1.0, min=0.0, max=1.0)["value"] == 0.0
    with pytest.raises(sdk.NodeError, match="min .* is greater than max"):
        run_node(FloatClamp, value=0.5, min=2.0, max=1.0)


def test_switch_picks_by_condition_and_names_a_missing_branch():
    assert run_node(SwitchValue, condition=True, if_true="yes", if_false="no")["value"] == "yes"
    assert run_node(SwitchValue, condition=False, if_true="yes", if_false=[1])["value"] == [1]
    with pytest.raises(sdk.NodeError, match="nothing is connected to if_false"):
        run_node(SwitchValue, condition=False, if_true="yes")


def test_first_non_empty_skips_missing_and_empty_values():
    assert run_node(FirstNonEmpty, value_1="", value_2=None, value_3=0, value_4="x")["value"] == 0
    image = np.zeros((1, 1, 1, 3), dtype=np.float32)
    assert run_node(FirstNonEmpty, value_2=image)["value"] is image
    with pytest.raises(sdk.NodeError, match="all four inputs are empty"):
        run_node(FirstNonEmpty, value_1={}, value_3=[])


@pytest.mark.parametrize(
    ("operation", "table"),
    [
        ("and", [False, False, False, True]),
        ("or", [False, True, True, True]),
        ("xor", [False, True, True, False]),
        ("nand", [True, True, True, False]),
        ("nor", [True, False, False, False]),
    ],
)
def test_boolean_logic_truth_tables(operation, table):
    pairs = [(False, False), (False, True), (True, False), (True, True)]
    assert [run_node(BooleanLogic, a=a, b=b, operation=operation)["result"] for a, b in pairs] == table
    assert run_node(BooleanNot, value=True)["result"] is False


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("hi", "hi"),
        (3, "3"),
        (2.5, "2.5"),
        (True, "True"),
        (None, "None"),
        ({"a": [1]}, '{\n    "a": [\n        1\n    ]\n}'),
    ],
)
def test_preview_any_shows_text_like_comfyui(value, text):
    outcome = run_node(PreviewAny, source=value)
    assert outcome["string"] == text
    assert list(outcome.ui.text) == [text]


def test_preview_any_describes_arrays():
    text = run_node(PreviewAny, source=np.zeros((1, 2, 2, 3), dtype=np.float32))["string"]
    assert text.startswith("array shape=(1, 2, 2, 3) dtype=float32")
    assert PreviewAny.schema().output_node
