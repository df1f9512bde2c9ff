"""The official-templates report over the whole installed corpus: it imports every UI workflow, subgraphs
included, and counts those whose every node type Flowyard knows."""

from __future__ import annotations

import json

import pytest

from scripts import comfy_templates_report as report
from workers.engine import NodeRegistry

# Raised by the lead as the diffusion, video/audio and utility nodes land (goal: 60). Measured when written.
ALL_KNOWN_AT_LEAST = 3


@pytest.fixture(scope="module")
def lines() -> list[dict]:
    registry = NodeRegistry.from_modules(report.builtin_pack_modules())
    return list(report.report(report.templates_dir(), registry))


def test_every_template_gets_a_line_and_the_summary_has_its_shape(lines: list[dict]) -> None:
    *templates, last = lines
    summary = last["summary"]
    assert set(summary) == {"total", "all_known", "with_subgraphs", "errors", "missing_types_by_count"}
    assert summary["total"] == len(templates) > 500
    assert summary["all_known"] == sum(1 for line in templates if line["ok"]) >= ALL_KNOWN_AT_LEAST
    counts = list(summary["missing_types_by_count"].values())
    assert counts == sorted(counts, reverse=True)
    for line in templates:
        assert set(line) >= {"name", "ok", "missing"}
        assert line["ok"] == (not line["missing"] and "error" not in line)
        json.dumps(line)


def test_workflows_with_subgraphs_import_and_flatten_without_errors(lines: list[dict]) -> None:
    with_subgraphs = [line for line in lines[:-1] if line["subgraphs"]]
    assert len(with_subgraphs) >= 200
    assert [line for line in with_subgraphs if "error" in line] == []
    assert lines[-1]["summary"]["errors"] == 0


def test_a_template_missing_nothing_is_ok_and_a_type_known_only_inside_a_subgraph_is_checked() -> None:
    registry = NodeRegistry.from_modules(["nodepacks.core"])
    sub = "00000000-0000-4000-8000-000000000001"
    workflow = {
        "nodes": [{"id": 1, "type": sub, "inputs": [], "outputs": [], "mode": 0}],
        "links": [],
        "definitions": {"subgraphs": [{
            "id": sub, "name": "S", "inputs": [], "outputs": [], "links": [],
            "nodes": [{"id": 2, "type": "NoSuchNode", "inputs": [], "outputs": [], "mode": 0},
                      {"id": 3, "type": "EmptyImage", "inputs": [], "outputs": [], "mode": 0}],
        }]},
    }  # fmt: skip
    line = report.check("t", workflow, registry)
    assert line == {"name": "t", "ok": False, "missing": ["NoSuchNode"], "subgraphs": 1}
    workflow["definitions"]["subgraphs"][0]["nodes"].pop(0)
    assert report.check("t", workflow, registry)["ok"] is True
