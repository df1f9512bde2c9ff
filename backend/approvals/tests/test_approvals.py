"""Approval steps end to end on the local dispatcher: pause, approve/reject, timeouts, access, fair use."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from backend.approvals.actions import expire_approvals
from backend.approvals.models import Approval
from backend.approvals.tests.helpers import gated_graph, wait_for_approval
from backend.runs import recovery
from backend.runs.models import NodeRun, Run, RunEvent, RunOutput
from backend.runs.tests import testpack
from backend.runs.tests.conftest import chain

pytestmark = pytest.mark.django_db(transaction=True)


def awaiting(run: Run) -> bool:
    return run.status == Run.Status.AWAITING_APPROVAL


def submit(client, team, graph) -> str:
    response = client.post("/api/runs", {"workspace": team.pk, "graph": graph}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def paused_run(as_role, team, wait_for_run, graph=None, role="runner"):
    run_id = submit(as_role(role), team, graph or gated_graph())
    wait_for_run(run_id, until=awaiting)
    return run_id, wait_for_approval(run_id)


def texts(run_id) -> dict[str, str]:
    return dict(
        RunOutput.objects.filter(run_id=run_id, kind=RunOutput.Kind.TEXT).values_list("node_id", "text")
    )


def event_types(run_id) -> list[str]:
    events = list(RunEvent.objects.filter(run_id=run_id).order_by("seq"))
    assert [e.seq for e in events] == list(range(1, len(events) + 1)), "the event log has no gaps"
    return [e.type for e in events]


def decide(client, run_id, approval, decision, comment=""):
    return client.post(
        f"/api/runs/{run_id}/approvals/{approval.pk}",
        {"decision": decision, "comment": comment},
        format="json",
    )


def test_a_run_pauses_at_the_approval_showing_the_value_and_resumes_on_approve(as_role, team, wait_for_run):
    run_id, approval = paused_run(as_role, team, wait_for_run)
    run = Run.objects.get(pk=run_id)
    assert run.finished is None and not run.is_finished()
    assert approval.node_id == "gate" and approval.approver_role == "editor" and approval.is_pending()
    assert approval.message == "Is 1 right?" and approval.on_timeout == "reject"
    assert approval.deadline is not None and approval.deadline > timezone.now() + timedelta(hours=23)
    nodes = dict(NodeRun.objects.filter(run_id=run_id).values_list("node_id", "status"))
    assert nodes == {
        "1": "succeeded",
        "gate": "awaiting",
        "3": "queued",
        "show": "queued",
        "b": "succeeded",
        "show_b": "succeeded",
    }
    assert texts(run_id) == {"gate": "1", "show_b": "value 5"}, "the approvers see the value under review"
    types = event_types(run_id)
    assert types[-3:] == ["node_paused", "run_paused", "approval_requested"] or types[-2:] == [
        "run_paused",
        "approval_requested",
    ]
    assert "run_finished" not in types

    listed = as_role("editor").get("/api/approvals?pending=1").json()
    assert [item["id"] for item in listed["results"]] == [approval.pk]
    assert listed["results"][0]["can_decide"] and listed["results"][0]["outputs"][0]["text"] == "1"
    assert as_role("runner").get("/api/approvals?pending=1").json()["results"] == []

    executions_before = testpack.executions.get("test.Inc", 0)
    posted = time.monotonic()
    response = decide(as_role("editor"), run_id, approval, "approve", "fine")
    assert response.status_code == 200, response.json()
    assert response.json()["decision"] == "approve" and response.json()["decided_by"] == "eddie"
    run = wait_for_run(run_id)
    print(f"approved to succeeded (embedded dispatcher): {time.monotonic() - posted:.3f} s")
    assert run.status == "succeeded", run.error
    assert run.attempts == 2
    assert texts(run_id)["show"] == "value 2"
    assert testpack.executions.get("test.Inc", 0) - executions_before == 1, (
        "node 1 came from the cache; only 3 ran"
    )
    types = event_types(run_id)
    assert types.count("run_finished") == 1 and types[-1] == "run_finished"
    decided = RunEvent.objects.get(run_id=run_id, type="approval_decided")
    assert decided.node == "gate"
    assert decided.data["decision"] == "approve" and decided.data["decided_by"] == "eddie"
    assert decided.data["comment"] == "fine" and decided.data["decided_at"]
    assert decided.data["run_status"] == "queued"
    nodes = dict(NodeRun.objects.filter(run_id=run_id).values_list("node_id", "status"))
    assert set(nodes.values()) == {"succeeded"}
    assert as_role("editor").get("/api/approvals?pending=1").json()["results"] == []


def test_a_rejected_approval_ends_the_run_rejected_with_who_and_why(as_role, team, wait_for_run):
    run_id, approval = paused_run(as_role, team, wait_for_run)
    response = decide(as_role("admin"), run_id, approval, "reject", "value is off")
    assert response.status_code == 200, response.json()
    run = Run.objects.get(pk=run_id)
    assert run.status == "rejected" and run.is_finished() and run.finished is not None
    assert run.error == "Rejected by adam: value is off"
    finished = RunEvent.objects.get(run_id=run_id, type="run_finished")
    assert finished.data["status"] == "rejected" and finished.seq == run.last_seq
    assert event_types(run_id)[-2:] == ["approval_decided", "run_finished"]
    nodes = dict(NodeRun.objects.filter(run_id=run_id).values_list("node_id", "status"))
    assert nodes["gate"] == "failed" and nodes["3"] == "skipped" and nodes["show"] == "skipped"
    # Decided once: a second decision is a conflict.
    again = decide(as_role("editor"), run_id, approval, "approve")
    assert again.status_code == 409, again.json()


@pytest.mark.parametrize(("on_timeout", "status"), [("approve", "succeeded"), ("reject", "rejected")])
def test_a_timed_out_approval_takes_its_chosen_outcome_in_the_sweep(
    as_role, team, wait_for_run, on_timeout, status
):
    graph = gated_graph(timeout_hours=1, on_timeout=on_timeout)
    run_id, approval = paused_run(as_role, team, wait_for_run, graph)
    assert expire_approvals() == [], "not due yet"
    Approval.objects.filter(pk=approval.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    report = recovery.sweep()
    assert report["approvals_timed_out"] == [approval.pk]
    run = wait_for_run(run_id)
    assert run.status == status, run.error
    approval.refresh_from_db()
    assert approval.decision == on_timeout and approval.timed_out and approval.decided_by is None
    if status == "succeeded":
        assert texts(run_id)["show"] == "value 2"
    else:
        assert run.error == "Rejected: no decision before the approval's deadline."


def test_approvers_by_role_decide_and_other_members_get_403_and_outsiders_404(as_role, team, wait_for_run):
    run_id, approval = paused_run(as_role, team, wait_for_run)
    for role in ("runner", "viewer"):
        response = decide(as_role(role), run_id, approval, "approve")
        assert response.status_code == 403, (role, response.json())
    assert decide(as_role("outsider"), run_id, approval, "approve").status_code == 404
    assert as_role("outsider").get(f"/api/runs/{run_id}/approvals").status_code == 404
    viewer_sees = as_role("viewer").get(f"/api/runs/{run_id}/approvals").json()
    assert [(item["id"], item["can_decide"]) for item in viewer_sees] == [(approval.pk, False)]
    bad = decide(as_role("owner"), run_id, approval, "maybe")
    assert bad.status_code == 400 and "decision" in str(bad.json())
    assert decide(as_role("owner"), run_id, approval, "approve").status_code == 200
    assert wait_for_run(run_id).status == "succeeded"


def test_approvers_by_username_decide_and_unnamed_editors_get_403(as_role, team, wait_for_run):
    run_id, approval = paused_run(as_role, team, wait_for_run, gated_graph(approvers="rita, vera"))
    assert approval.approver_users == ["rita", "vera"] and approval.approver_role == ""
    assert decide(as_role("editor"), run_id, approval, "approve").status_code == 403
    assert decide(as_role("owner"), run_id, approval, "approve").status_code == 403
    [listed] = as_role("viewer").get("/api/approvals?pending=1").json()["results"]
    assert listed["id"] == approval.pk and listed["approvers"]["users"] == ["rita", "vera"]
    response = decide(as_role("runner"), run_id, approval, "reject")
    assert response.status_code == 200, response.json()
    assert Run.objects.get(pk=run_id).status == "rejected"


def test_a_paused_run_holds_no_fair_use_slot(settings, as_role, team, wait_for_run):
    settings.FLOWYARD_MAX_RUNNING_PER_USER = 1
    settings.FLOWYARD_LEND_IDLE_WORKERS = False
    client = as_role("runner")
    run_id, approval = paused_run(as_role, team, wait_for_run)
    other = submit(client, team, chain(2))
    assert wait_for_run(other).status == "succeeded", "the paused run did not keep the user's only slot"
    assert Run.objects.get(pk=run_id).status == "awaiting_approval"
    assert decide(as_role("editor"), run_id, approval, "approve").status_code == 200
    assert wait_for_run(run_id).status == "succeeded"


def test_a_paused_run_can_be_cancelled_at_once_and_then_cannot_be_approved(as_role, team, wait_for_run):
    run_id, approval = paused_run(as_role, team, wait_for_run)
    assert as_role("runner").post(f"/api/runs/{run_id}/cancel").status_code in (200, 202)
    assert Run.objects.get(pk=run_id).status == "cancelled"
    assert decide(as_role("editor"), run_id, approval, "approve").status_code == 409


def test_two_steps_in_a_row_each_ask_and_the_run_resumes_after_each(as_role, team, wait_for_run):
    graph = gated_graph()
    graph["nodes"]["gate2"] = {"type": "Approval", "inputs": {"value": ["3", 0], "approvers": "admin"}}
    graph["nodes"]["show"]["inputs"]["value"] = ["gate2", 0]
    run_id, first = paused_run(as_role, team, wait_for_run, graph)
    assert first.node_id == "gate"
    assert decide(as_role("editor"), run_id, first, "approve").status_code == 200
    wait_for_run(run_id, until=lambda run: run.attempts == 2 and awaiting(run))
    second = wait_for_approval(run_id, node="gate2")
    assert second.node_id == "gate2" and second.approver_role == "admin"
    assert texts(run_id)["gate2"] == "2", "the second step shows what the first one let through"
    assert decide(as_role("editor"), run_id, second, "approve").status_code == 403
    assert decide(as_role("admin"), run_id, second, "approve").status_code == 200
    run = wait_for_run(run_id)
    assert run.status == "succeeded" and run.attempts == 3
    assert texts(run_id)["show"] == "value 2"
    assert event_types(run_id).count("approval_decided") == 2


def test_parallel_steps_resume_the_run_once_both_are_approved(as_role, team, wait_for_run):
    graph = gated_graph()
    graph["nodes"]["gate_b"] = {"type": "Approval", "inputs": {"value": ["b", 0]}}
    graph["nodes"]["show_b"]["inputs"]["value"] = ["gate_b", 0]
    run_id = submit(as_role("runner"), team, graph)
    wait_for_run(run_id, until=awaiting)
    wait_for_approval(run_id, node="gate_b")
    approvals = {a.node_id: a for a in Approval.objects.filter(run_id=run_id)}
    assert set(approvals) == {"gate", "gate_b"}
    response = decide(as_role("editor"), run_id, approvals["gate"], "approve")
    assert response.json()["run_status"] == "awaiting_approval"
    assert RunEvent.objects.filter(run_id=run_id, type="approval_decided").get().data["run_status"] == (
        "awaiting_approval"
    )
    assert Run.objects.get(pk=run_id).status == "awaiting_approval", "one step still waits"
    assert decide(as_role("editor"), run_id, approvals["gate_b"], "approve").status_code == 200
    run = wait_for_run(run_id)
    assert run.status == "succeeded", run.error
    assert texts(run_id) == {"gate": "1", "gate_b": "5", "show": "value 2", "show_b": "value 5"}


def test_the_sweep_requests_the_approvals_of_a_run_whose_worker_stopped_before_it_could(
    as_role, team, wait_for_run
):
    run_id, approval = paused_run(as_role, team, wait_for_run)
    Approval.objects.filter(pk=approval.pk).delete()  # as if the worker died between pausing and requesting
    assert as_role("editor").get("/api/approvals?pending=1").json()["results"] == []
    assert recovery.sweep()["approvals_requested"] == [run_id]
    [again] = Approval.objects.filter(run_id=run_id)
    assert again.node_id == "gate" and again.is_pending()
    assert recovery.sweep().get("approvals_requested") is None, "nothing left to repair"
    assert decide(as_role("editor"), run_id, again, "approve").status_code == 200
    assert wait_for_run(run_id).status == "succeeded"


def test_every_visible_approval_is_listed_without_pending_and_outsiders_see_none(as_role, team, wait_for_run):
    run_id, approval = paused_run(as_role, team, wait_for_run)
    assert decide(as_role("editor"), run_id, approval, "reject", "no").status_code == 200
    [listed] = as_role("viewer").get("/api/approvals").json()["results"]
    assert listed["id"] == approval.pk and listed["decision"] == "reject" and listed["comment"] == "no"
    assert listed["decided_by"] == "eddie" and listed["run_status"] == "rejected" and not listed["can_decide"]
    assert as_role("outsider").get("/api/approvals").json() == {"count": 0, "results": []}
