"""A graph with an approval step, and waiting for a run to reach a state."""

from __future__ import annotations

import time
from typing import Any

from backend.approvals.models import Approval


def gated_graph(approvers: str = "editor", **approval: Any) -> dict[str, Any]:
    """1 (0 + 1) -> Approval -> 3 (+ 1) -> show "value 2", and an independent branch b (4 + 1) -> show_b."""
    return {
        "nodes": {
            "1": {"type": "test.Inc", "inputs": {"value": 0}},
            "gate": {
                "type": "Approval",
                "inputs": {"value": ["1", 0], "approvers": approvers, "message": "Is 1 right?", **approval},
            },
            "3": {"type": "test.Inc", "inputs": {"value": ["gate", 0]}},
            "show": {"type": "test.Show", "inputs": {"value": ["3", 0]}},
            "b": {"type": "test.Inc", "inputs": {"value": 4}},
            "show_b": {"type": "test.Show", "inputs": {"value": ["b", 0]}},
        }
    }


def wait_for_approval(run_id: Any, timeout: float = 20.0, node: str | None = None) -> Approval:
    """Poll until the run's approval (at ``node``) exists (the worker requests it right after the run pauses)."""
    deadline = time.monotonic() + timeout
    while True:
        found = Approval.objects.filter(run_id=run_id)
        approval = (found.filter(node_id=node) if node else found).order_by("-id").first()
        if approval is not None:
            return approval
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} has no approval after {timeout} s")
        time.sleep(0.02)
