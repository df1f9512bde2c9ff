"""Approval steps in a real browser (docs/approvals.md), on the embedded default: a run pauses at its Approval
node, the top bar counts it, the run page shows the image under review, Approve with a comment lets the run
finish; a second run rejected from the /approvals page leaves the list and ends `rejected` with who and why."""

from __future__ import annotations

from playwright.sync_api import expect

from conftest import unique

GATED = {
    "nodes": {
        "1": {
            "type": "EmptyImage",
            "inputs": {"width": 64, "height": 48, "batch_size": 1, "color": 0x3366CC},
        },
        "gate": {
            "type": "Approval",
            "inputs": {"value": ["1", 0], "approvers": "owner", "message": "Is the colour right?"},
        },
        "3": {"type": "ImageInvert", "inputs": {"image": ["gate", 0]}},
        "4": {"type": "PreviewImage", "inputs": {"images": ["3", 0]}},
    }
}


def paused_run(owner, workspace: int) -> str:
    run = owner.api("POST", "/api/runs", {"workspace": workspace, "graph": GATED})
    page = owner.page
    page.goto(f"/runs/{run['id']}")
    expect(page.locator(".fy-run-pill").first).to_have_text("awaiting_approval", timeout=30_000)
    return run["id"]


def test_an_approver_approves_on_the_run_page_and_rejects_from_the_approvals_page(person):
    owner = person()
    user = owner.signup(unique("ann"))
    workspace = user["personal_workspace"]["id"]
    page = owner.page

    run_id = paused_run(owner, workspace)
    panel = page.get_by_role("region", name="Approvals")
    expect(panel.get_by_text("Is the colour right?")).to_be_visible()
    expect(panel.locator("img")).to_have_count(1)  # the image that reached the step
    expect(page.get_by_test_id("approvals-badge")).to_have_text("1", timeout=35_000)
    panel.get_by_label("Comment").fill("blue is fine")
    panel.get_by_role("button", name="Approve").click()
    expect(page.locator(".fy-run-pill").first).to_have_text("succeeded", timeout=30_000)
    expect(panel.get_by_test_id("approval-decision")).to_contain_text(f"Approved by {user['username']}")
    expect(panel.get_by_test_id("approval-decision")).to_contain_text("blue is fine")
    detail = owner.api("GET", f"/api/runs/{run_id}")
    assert {node["node_id"]: node["status"] for node in detail["nodes"]}["3"] == "succeeded"
    expect(page.get_by_test_id("approvals-badge")).to_have_count(0)

    second = paused_run(owner, workspace)
    page.get_by_role("link", name="Approvals").click()
    expect(page).to_have_url("/approvals")
    card = page.locator(".fy-approval").first
    expect(card).to_contain_text("Is the colour right?")
    card.get_by_label("Comment").fill("too dark")
    card.get_by_role("button", name="Reject").click()
    expect(page.get_by_text("Nothing waits for your approval.")).to_be_visible()  # decided: off the list
    run = owner.api("GET", f"/api/runs/{second}")
    assert run["status"] == "rejected"
    assert run["error"] == f"Rejected by {user['username']}: too dark"
    page.goto(f"/runs/{second}")
    expect(page.locator(".fy-run-pill").first).to_have_text("rejected")
    expect(page.get_by_role("button", name="Resume from failure")).to_be_visible()
