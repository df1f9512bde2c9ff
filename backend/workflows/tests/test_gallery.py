"""Built-in templates (listed, previewed, used: sample file uploaded, runnable as shipped), opening a graph file,
and a version exported as a Python script or an SVG picture, each for owner, team member and outsider."""

from __future__ import annotations

import json
import runpy
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from backend.accounts.roles import Role
from backend.storage.blobs import get_blob_store
from backend.uploads.models import Upload
from backend.workers_registry import process
from backend.workflows import gallery_views
from backend.workflows.builtin_templates import EXAMPLES_DIR, builtin_templates
from backend.workflows.models import Workflow
from workers.engine.graph import parse_graph

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(autouse=True)
def blob_dir(settings, tmp_path: Path) -> None:
    settings.FLOWYARD_BLOB_BACKEND = "local"
    settings.FLOWYARD_BLOB_DIR = tmp_path / "blobs"
    get_blob_store()


@pytest.fixture
def no_model_files(monkeypatch):
    monkeypatch.setattr(gallery_views, "model_file_options", lambda kind: [])


@pytest.mark.django_db
def test_the_gallery_lists_the_shipped_templates_and_what_each_needs(as_role, no_model_files):
    response = as_role("viewer").get("/api/templates/builtin")
    assert response.status_code == 200
    templates = {t["id"]: t for t in response.json()}
    assert list(templates) == ["text-pipeline", "image-pipeline", "branching", "txt2img"]
    assert {t["category"] for t in templates.values()} >= {"text", "image", "branching"}
    assert all(not templates[i]["needs"] for i in ("text-pipeline", "image-pipeline", "branching"))
    # No checkpoint installed: shown, but marked as needing one.
    assert templates["txt2img"]["needs"] == ["a model in checkpoints/ (none is installed)"]
    assert templates["text-pipeline"]["node_count"] == 9


@pytest.mark.django_db
def test_a_template_with_a_checkpoint_installed_is_ready_and_uses_it(as_role, team, monkeypatch):
    monkeypatch.setattr(gallery_views, "model_file_options", lambda kind: ["tiny-sd15.safetensors"])
    client = as_role("editor")
    listed = {t["id"]: t for t in client.get("/api/templates/builtin").json()}
    assert listed["txt2img"]["needs"] == []
    created = client.post("/api/templates/builtin/txt2img/use", {"workspace": team.pk}, format="json")
    assert created.status_code == 201, created.json()
    graph = created.json()["version"]["graph"]
    assert graph["nodes"]["4"]["inputs"]["ckpt_name"] == "tiny-sd15.safetensors"
    # The API prompt's titles and a left-to-right layout came with it.
    layout = created.json()["version"]["layout"]["nodes"]
    assert (
        layout["6"]["title"] == "Positive prompt" and layout["4"]["x"] < layout["6"]["x"] < layout["3"]["x"]
    )


@pytest.mark.django_db
def test_the_preview_is_an_svg_of_the_template(as_role):
    response = as_role("outsider").get("/api/templates/builtin/branching/preview.svg")
    assert response.status_code == 200 and response["Content-Type"].startswith("image/svg+xml")
    root = ET.fromstring(response.content)
    nodes = [g for g in root.iter(f"{SVG}g") if g.attrib.get("class") == "node"]
    assert len(nodes) == len(builtin_templates()["branching"].graph["nodes"])
    assert as_role("outsider").get("/api/templates/builtin/nope/preview.svg").status_code == 404


@pytest.mark.django_db
def test_using_a_template_needs_the_editor_role_in_the_workspace(as_role, team):
    for role, expected in [
        ("owner", 201),
        ("editor", 201),
        ("runner", 403),
        ("viewer", 403),
        ("outsider", 404),
    ]:
        response = as_role(role).post(
            "/api/templates/builtin/text-pipeline/use", {"workspace": team.pk}, format="json"
        )
        assert response.status_code == expected, (role, response.json())
    assert Workflow.objects.filter(workspace=team, name="Text pipeline").count() == 2


@pytest.mark.django_db
def test_bad_input_to_use_a_template_names_the_field(as_role, team):
    client = as_role("editor")
    response = client.post("/api/templates/builtin/text-pipeline/use", {"workspace": "x"}, format="json")
    assert response.status_code == 400 and "workspace" in str(response.json())
    missing = client.post("/api/templates/builtin/nope/use", {"workspace": team.pk}, format="json")
    assert missing.status_code == 404


@pytest.mark.django_db
def test_the_sample_image_is_uploaded_once_per_workspace(as_role, team):
    client = as_role("editor")
    first = client.post("/api/templates/builtin/image-pipeline/use", {"workspace": team.pk}, format="json")
    second = client.post(
        "/api/templates/builtin/image-pipeline/use", {"workspace": team.pk, "name": "Again"}, format="json"
    )
    assert first.status_code == second.status_code == 201
    uploads = list(Upload.objects.filter(workspace=team))
    assert [(u.name, u.kind) for u in uploads] == [("sample.png", "image")]
    for response in (first, second):
        assert response.json()["version"]["graph"]["nodes"]["load"]["inputs"]["image"] == "sample.png"
    assert second.json()["name"] == "Again"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("template_id", ["text-pipeline", "image-pipeline", "branching"])
def test_each_ready_template_runs_as_shipped(template_id, as_role, team, settings, monkeypatch, wait_for_run):
    settings.FLOWYARD_DISPATCHER = "local"
    monkeypatch.setattr(process, "_memory", None)
    client = as_role("editor")
    created = client.post(f"/api/templates/builtin/{template_id}/use", {"workspace": team.pk}, format="json")
    assert created.status_code == 201, created.json()
    response = client.post("/api/runs", {"workflow": created.json()["id"]}, format="json")
    assert response.status_code == 201, response.json()
    run = wait_for_run(response.json()["id"])
    assert run.status == "succeeded", run.error


# --- opening a file ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_bare_graph_opens_laid_out_with_unknown_types_named(as_role):
    graph = {
        "nodes": {
            "a": {"type": "PrimitiveString", "inputs": {"value": "x"}},
            "b": {"type": "PreviewAny", "inputs": {"source": ["a", 0]}},
            "c": {"type": "vignette.Vignette", "inputs": {}},
        }
    }
    response = as_role("viewer").post("/api/workflows/open", {"graph": graph}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    places = body["document"]["layout"]["nodes"]
    assert set(places) == {"a", "b", "c"} and places["a"]["x"] < places["b"]["x"]
    assert len({(p["x"], p["y"]) for p in places.values()}) == 3  # no two on the same spot
    assert list(body["missing"]) == ["c"]
    assert [w["node"] for w in body["warnings"]] == ["c"]


@pytest.mark.django_db
def test_a_document_keeps_its_positions_and_places_only_the_new_nodes(as_role):
    graph = {
        "nodes": {
            "a": {"type": "PrimitiveString", "inputs": {"value": "x"}},
            "b": {"type": "PreviewAny", "inputs": {"source": ["a", 0]}},
        }
    }
    layout = {"nodes": {"a": {"x": 500, "y": 40}}}
    body = (
        as_role("outsider")
        .post("/api/workflows/open", {"graph": graph, "layout": layout}, format="json")
        .json()
    )
    places = body["document"]["layout"]["nodes"]
    assert places["a"] == {"x": 500, "y": 40} and places["b"]["x"] > 500


@pytest.mark.django_db
def test_the_image_example_file_opens_with_its_sample_photo_uploaded(as_role, members):
    document = json.loads((EXAMPLES_DIR / "image-pipeline.json").read_text())
    response = as_role("editor").post("/api/workflows/open", document, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["document"]["graph"]["nodes"]["load"]["inputs"]["image"] == "sample.png"
    personal = members[Role.EDITOR].personal_workspace
    assert list(Upload.objects.filter(workspace=personal).values_list("name", flat=True)) == ["sample.png"]


@pytest.mark.django_db
def test_opening_a_file_that_is_no_graph_says_why(as_role, anon):
    response = as_role("viewer").post(
        "/api/workflows/open", {"graph": {"nodes": {"1": {"inputs": {}}}}}, format="json"
    )
    assert response.status_code == 400 and response.json()["errors"][0]["node"] == "1"
    assert anon.post("/api/workflows/open", {"graph": {"nodes": {}}}, format="json").status_code in (401, 403)


# --- export --------------------------------------------------------------------------------------------------


def export(client: Any, workflow: Workflow, fmt: str) -> Any:
    return client.get(f"/api/workflows/{workflow.pk}/versions/1/export", {"format": fmt})


@pytest.mark.django_db
def test_a_version_exports_as_a_script_that_builds_the_same_graph(as_role, workflow, tmp_path: Path):
    response = export(as_role("viewer"), workflow, "python")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="invert_v1.py"'
    script = tmp_path / "invert_v1.py"
    script.write_bytes(response.content)
    built = runpy.run_path(str(script), run_name="exported")["graph"]
    assert built == parse_graph(workflow.latest_version().graph).to_json()
    assert "# Invert" in response.content.decode()  # the layout's title


@pytest.mark.django_db
def test_a_version_exports_as_an_svg_at_its_layout_positions(as_role, workflow):
    response = export(as_role("owner"), workflow, "svg")
    assert response.status_code == 200 and response["Content-Type"].startswith("image/svg+xml")
    root = ET.fromstring(response.content)
    nodes = {g.attrib["data-node"]: g for g in root.iter(f"{SVG}g") if g.attrib.get("class") == "node"}
    assert nodes["2"].attrib["transform"] == "translate(240,0)"
    assert len([p for p in root.iter(f"{SVG}path") if p.attrib.get("class") == "link"]) == 1


@pytest.mark.django_db
def test_export_is_access_checked_and_names_a_bad_format(as_role, workflow, private_workflow):
    assert export(as_role("outsider"), workflow, "svg").status_code == 404
    assert export(as_role("viewer"), private_workflow, "python").status_code == 404
    assert export(as_role("editor"), private_workflow, "python").status_code == 200
    bad = export(as_role("owner"), workflow, "png")
    assert bad.status_code == 400 and "format" in str(bad.json())
