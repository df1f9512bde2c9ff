"""The strict JSON reader finds an out-of-range number wherever it sits in the document, and reads the rest
exactly as ``json`` does."""

from __future__ import annotations

import json

import pytest

from backend.accounts.exceptions import ApiError
from backend.core.json_input import loads_strict


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"graph": {"nodes": {"1": {"inputs": {"x": [1, 2, 1e999]}}}}}', "out of range"),
        (b'{"graph": {"nodes": {"1": {"inputs": {"seed": -18446744073709551617}}}}}', "too large"),
        (b'[{"a": [' + b"9" * 5000 + b"]}]", "too large"),
        (b"1e999", "out of range"),
    ],
)
def test_a_number_out_of_range_anywhere_is_refused_naming_the_field(raw, reason):
    with pytest.raises(ApiError) as refused:
        loads_strict(raw, field="prompt")
    assert reason in str(refused.value.detail)
    assert str(refused.value.detail).startswith("prompt: ")


def test_numbers_in_range_and_other_values_read_as_json_reads_them():
    raw = b'{"a": [18446744073709551616, -18446744073709551616, 1.5, true, null, "x"], "b": {"c": [[0]]}}'
    assert loads_strict(raw) == json.loads(raw)
