"""Workflows with subgraphs: saved with their definitions, flattened at submit, run under path ids."""

from __future__ import annotations

import copy

import pytest

from backend.accounts.roles import Role
from backend.runs.models import RunEvent
from backend.workflows.actions import do_create_workflow
from backend.workflows.documents import parse_document

pytestmark = pytest.mark.django_db(transaction=True)

# "Plus two": two test.Inc in a row; its input "n" feeds the first (falls back to its value 10).
PLUS_TWO = {
    "name": "Plus two",
    "inputs": [{"name": "n", "type": "INT", "targets": [["1", "value"]]}],
    "outputs": [{"name": "value", "type": "INT", "source": ["2", 0]}],
    "nodes": {
        "1": {"type": "test.Inc", "inputs": {"value": 10}},
        "2": {"type": "test.Inc", "inputs": {"value": ["1", 0]}},
    },
}
GRAPH = {
    "nodes": {
        "5": {"type": "test.Inc", "inputs": {"value": 0}},
        "12": {"type": "subgraph:plus2", "inputs": {"n": ["5", 0]}},
        "show": {"type": "test.Show", "inputs": {"value": ["12", 0]}},
    },
    "subgraphs": {"plus2": PLUS_TWO},
}
LAYOUT = {
    "nodes": {"12": {"x": 0, "y": 0}},
    "groups": [],
    "subgraphs": {"plus2": {"nodes": {"1": {"x": 5, "y": 6}}}},
}


def test_a_saved_workflow_keeps_its_subgraphs_and_runs_them_under_path_ids(
    team, members, as_role, wait_for_run
):
    document = parse_document(copy.deepcopy(GRAPH), copy.deepcopy(LAYOUT))
    assert document.graph["subgraphs"]["plus2"]["nodes"] == PLUS_TWO["nodes"]
    assert document.layout["subgraphs"]["plus2"]["nodes"]["1"] == {"x": 5.0, "y": 6.0}
    workflow = do_create_workflow(members[Role.OWNER], team, "Sub", document)

    client = as_role("runner")
    response = client.post("/api/runs", {"workflow": workflow.pk}, format="json")
    assert response.status_code == 201, response.json()
    run = response.json()
    assert [n["node_id"] for n in run["nodes"]] == ["5", "12:1", "12:2", "show"]
    wait_for_run(run["id"])
    detail = client.get(f"/api/runs/{run['id']}").json()
    assert detail["status"] == "succeeded", detail
    events = RunEvent.objects.filter(run_id=run["id"]).values_list("node", flat=True)
    assert {"12:1", "12:2"} <= set(events)
    assert [r["text"] for r in detail["results"] if r["node_id"] == "show" and r["text"]] == ["value 3"]


def test_an_input_nothing_feeds_is_reported_on_the_instance(team, as_role):
    graph: dict = copy.deepcopy(GRAPH)
    graph["subgraphs"]["plus2"]["nodes"]["1"]["inputs"] = {}  # no fallback value either
    graph["subgraphs"]["plus2"]["nodes"]["1"]["type"] = "test.Show"  # a link-only input
    graph["subgraphs"]["plus2"]["outputs"] = []
    graph["nodes"]["12"]["inputs"] = {}
    del graph["nodes"]["show"]
    response = as_role("runner").post("/api/runs", {"workspace": team.pk, "graph": graph}, format="json")
    assert response.status_code == 400
    found = {(e["code"], e["node"], e["input"]) for e in response.json()["errors"]}
    assert ("missing_input", "12", "n") in found
    graph["nodes"]["13"] = {"type": "subgraph:nope", "inputs": {}}
    response = as_role("runner").post("/api/runs", {"workspace": team.pk, "graph": graph}, format="json")
    assert ("unknown_subgraph", "13") in {(e["code"], e["node"]) for e in response.json()["errors"]}
