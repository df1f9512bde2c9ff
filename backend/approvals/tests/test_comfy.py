"""Through /comfy/, a run paused at an approval step is not finished: pending in the queue, absent from the
history until an approver lets it go on."""

from __future__ import annotations

import pytest

from backend.approvals.tests.helpers import wait_for_approval
from backend.compat.models import ComfyPrompt
from backend.runs.models import Run

pytestmark = pytest.mark.django_db(transaction=True)

PROMPT = {
    "1": {"class_type": "test.Inc", "inputs": {"value": 0}},
    "2": {"class_type": "Approval", "inputs": {"value": ["1", 0], "approvers": "alice"}},
    "3": {"class_type": "test.Inc", "inputs": {"value": ["2", 0]}},
    "4": {"class_type": "test.Show", "inputs": {"value": ["3", 0]}},
}


def test_a_paused_prompt_is_pending_and_out_of_the_history_until_approved(alice, wait_for_run, client_for):
    client = client_for(alice, token=True)
    answer = client.post("/comfy/prompt", {"prompt": PROMPT}, format="json")
    assert answer.status_code == 200, answer.content
    prompt_id = answer.json()["prompt_id"]
    run_id = ComfyPrompt.objects.get(prompt_id=prompt_id).run_id
    wait_for_run(run_id, until=lambda run: run.status == Run.Status.AWAITING_APPROVAL)
    approval = wait_for_approval(run_id)

    queue = client.get("/comfy/queue").json()
    assert queue["queue_running"] == []
    assert [item[1] for item in queue["queue_pending"]] == [prompt_id]
    assert client.get(f"/comfy/history/{prompt_id}").json() == {}
    assert prompt_id not in client.get("/comfy/history").json()

    decided = client.post(
        f"/api/runs/{run_id}/approvals/{approval.pk}", {"decision": "approve"}, format="json"
    )
    assert decided.status_code == 200, decided.json()
    assert wait_for_run(run_id).status == Run.Status.SUCCEEDED
    entry = client.get(f"/comfy/history/{prompt_id}").json()[prompt_id]
    assert entry["status"]["completed"] is True
    assert entry["outputs"]["4"]["text"] == ["value 2"]
    assert client.get("/comfy/queue").json() == {"queue_running": [], "queue_pending": []}
