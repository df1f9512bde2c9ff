"""The official-templates report over the whole installed corpus: it imports every UI workflow, subgraphs
included, and counts those whose every node type Flowyard knows."""

from __future__ import annotations

import json
from typing import Any

import pytest

from scripts import comfy_templates_report as report
from workers.engine import NodeRegistry

# The goal: at least 60 of the corpus's 644 UI workflows import with every node known (61 measured).
ALL_KNOWN_AT_LEAST = 60
# ComfyUI's SD1.x/SDXL/SD3/FLUX.1 image templates that must stay all-known (most also run in
# backend/compat/tests/test_templates_run*.py on tiny models of their family).
IMAGE_TEMPLATES = {
    "image_sdxl_simple", "sdxl_simple_example", "sdxl_refiner_prompt_example", "sdxlturbo_example",
    "sd3.5_simple_example", "sd3.5_large_blur", "sd3.5_large_canny_controlnet_example",
    "flux_schnell", "flux_schnell_full_text_to_image", "flux_dev_checkpoint_example", "flux_dev_full_text_to_image",
    "flux1_krea_dev", "flux_kontext_dev_basic", "flux_fill_inpaint_example", "flux_fill_outpaint_example",
    "image_flux.1_fill_dev_OneReward",
}  # fmt: skip


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


def test_the_sd_sdxl_sd3_and_flux_image_templates_are_all_known(lines: list[dict]) -> None:
    known = {line["name"] for line in lines[:-1] if line["ok"]}
    assert known >= IMAGE_TEMPLATES, sorted(IMAGE_TEMPLATES - known)


def test_workflows_with_subgraphs_import_and_flatten_without_errors(lines: list[dict]) -> None:
    with_subgraphs = [line for line in lines[:-1] if line["subgraphs"]]
    assert len(with_subgraphs) >= 200
    assert [line for line in with_subgraphs if "error" in line] == []
    assert lines[-1]["summary"]["errors"] == 0


def test_a_template_missing_nothing_is_ok_and_a_type_known_only_inside_a_subgraph_is_checked() -> None:
    registry = NodeRegistry.from_modules(["nodepacks.core"])
    sub = "00000000-0000-4000-8000-000000000001"
    workflow: dict[str, Any] = {
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
