"""The Approval node: asks for a decision with its request and preview, then passes its value on once approved."""

from __future__ import annotations

import numpy as np
import pytest

from nodepacks import sdk
from nodepacks.core.approval import Approval, parse_approvers
from nodepacks.core.tests.helpers import solid


def run(value, decision=None, **inputs):
    node = Approval()
    return node.execute(Approval.Inputs(value=value, **inputs), sdk.Context("7", decision=decision))


def test_without_a_decision_it_asks_the_named_approvers_with_a_preview():
    with pytest.raises(sdk.AwaitDecision) as raised:
        run("a poster", approvers=" bob, alice ,bob", timeout_hours=2, on_timeout="approve", message="OK?")
    assert str(raised.value) == "OK?"
    assert raised.value.request == {"users": ["alice", "bob"], "timeout_hours": 2, "on_timeout": "approve"}
    assert list(raised.value.ui.text) == ["a poster"]


def test_a_role_name_asks_that_role_and_an_image_is_previewed_as_an_image():
    image = solid(4, 4, (1.0, 0.0, 0.0))
    with pytest.raises(sdk.AwaitDecision) as raised:
        run(image, approvers="Admin")
    assert raised.value.request["role"] == "admin"
    assert raised.value.request["on_timeout"] == "reject"
    assert np.array_equal(raised.value.ui.images[0], image)


def test_approved_it_passes_the_value_on_unchanged():
    assert run({"a": 1}, decision="approve").value == {"a": 1}


def test_rejected_it_fails():
    with pytest.raises(sdk.NodeError, match="rejected"):
        run(1, decision="reject")


def test_empty_approvers_are_refused():
    with pytest.raises(sdk.NodeError, match="approvers is empty"):
        parse_approvers(" , ")


def test_the_step_is_never_served_from_the_cache():
    assert Approval.schema().non_deterministic
