"""Approval: pause a run until a person approves the value that reached this node (docs/approvals.md)."""

from __future__ import annotations

from typing import Any

import numpy as np

from nodepacks import sdk
from nodepacks.core.preview import describe

ROLES = ("owner", "admin", "editor", "runner", "viewer")
ON_TIMEOUT = ("reject", "approve")
_TEXT_CHARS = 4_000


def preview_of(value: Any) -> sdk.UI:
    """What approvers are shown: images as images, everything else as text."""
    if isinstance(value, np.ndarray) and value.ndim in (3, 4) and value.shape[-1] in (1, 3, 4):
        return sdk.UI(images=[value])
    text = describe(value)
    if len(text) > _TEXT_CHARS:
        text = text[:_TEXT_CHARS] + "…"
    return sdk.UI(text=[text])


def parse_approvers(spec: str) -> dict[str, Any]:
    """``{"role": "editor"}`` for a role name (that role or a higher one approves), else
    ``{"users": [usernames]}``; raise ``NodeError`` when nobody is named."""
    cleaned = spec.strip()
    if cleaned.lower() in ROLES:
        return {"role": cleaned.lower()}
    users = sorted({name.strip() for name in cleaned.split(",") if name.strip()})
    if not users:
        raise sdk.NodeError("approvers is empty: name a role (owner, admin, editor, runner) or usernames")
    return {"users": users}


class Approval(sdk.Node):
    """Pause the run until an approver approves ``value``, then pass it on unchanged (a rejection ends the run).

    Approvers are a workspace role (that role or higher) or comma-separated usernames. Without a decision within
    ``timeout_hours`` (0: never), ``on_timeout`` decides.
    """

    id = "Approval"
    display_name = "Approval"
    category = "utils/flow"
    # A decision belongs to one run: the step is never served from the cache, so every run asks its approvers.
    non_deterministic = True

    class Inputs(sdk.Inputs):
        value: sdk.AnyValue = sdk.link(tooltip="What the approvers review; passed on once approved")
        approvers: str = sdk.text(
            "editor", placeholder="editor, or alice,bob", tooltip="A role (that role or higher) or usernames"
        )
        timeout_hours: float = sdk.number(
            24.0, min=0, max=24 * 365, step=0.5, tooltip="Hours to wait for a decision (0: no timeout)"
        )
        on_timeout: str = sdk.select(
            "reject", options=list(ON_TIMEOUT), tooltip="The decision when time runs out"
        )
        message: str = sdk.text("", multiline=True, tooltip="What the approvers should check")

    class Outputs(sdk.Outputs):
        value: sdk.AnyValue

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        if ctx.decision == "approve":
            return self.Outputs(value=inputs.value)
        if ctx.decision is not None:
            raise sdk.NodeError(f"the approval was {ctx.decision}ed")
        request = {
            **parse_approvers(inputs.approvers),
            "timeout_hours": inputs.timeout_hours,
            "on_timeout": inputs.on_timeout,
        }
        raise sdk.AwaitDecision(
            inputs.message.strip() or "Approve to continue the run.",
            request=request,
            ui=preview_of(inputs.value),
        )


NODES: list[type[sdk.Node]] = [Approval]
