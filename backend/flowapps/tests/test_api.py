"""The apps API without execution: publishing, who may do what, input validation, idempotency, keys, limits."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from backend.flowapps.models import App, AppKey, AppRun
from backend.flowapps.tests.conftest import APP_SECTION, app_document
from backend.runs.models import Run
from backend.workflows.actions import do_save_version

pytestmark = pytest.mark.django_db

MEMBERS = ["owner", "admin", "editor", "runner", "viewer"]
RUNNERS = {"owner", "admin", "editor", "runner"}
EDITORS = {"owner", "admin", "editor"}


def key_client(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def new_key(app, as_role) -> str:
    response = as_role("editor").post(f"/api/apps/{app.slug}/keys", {"name": "ci"}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["key"]


# Publishing


@pytest.mark.parametrize("role", [*MEMBERS, "outsider"])
def test_only_editors_publish_a_workflow_as_an_app(role, team, alice, as_role):
    from backend.workflows.actions import do_create_workflow

    workflow = do_create_workflow(alice, team, "Team tiny", app_document())  # team-visible
    body = {"workflow": workflow.pk, "slug": f"app-{role}", "title": "T"}
    response = as_role(role).post("/api/apps", body, format="json")
    expected = 201 if role in EDITORS else 404 if role == "outsider" else 403
    assert response.status_code == expected, response.json()
    assert App.objects.filter(slug=f"app-{role}").exists() == (expected == 201)
    if expected == 201:
        assert response.json()["version"] == 1 and response.json()["can_edit"] is True


def test_a_taken_slug_and_a_version_without_an_app_section_are_refused(app, app_workflow, alice, as_role):
    client = as_role("owner")
    response = client.post(
        "/api/apps", {"workflow": app_workflow.pk, "slug": "tiny", "title": "X"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["errors"][0]["field"] == "slug"
    do_save_version(app_workflow, alice, app_document({"inputs": [], "outputs": []}))
    response = client.post(
        "/api/apps", {"workflow": app_workflow.pk, "slug": "other", "title": "X"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "version"


def test_the_pinned_version_stays_until_the_app_is_repinned(app, app_workflow, alice, as_role):
    section = {"outputs": APP_SECTION["outputs"], "inputs": [APP_SECTION["inputs"][0]]}
    do_save_version(app_workflow, alice, app_document(section))
    client = as_role("owner")
    assert len(client.get("/api/apps/tiny").json()["inputs"]) == 3
    response = client.patch("/api/apps/tiny", {"version": 2, "title": "Renamed"}, format="json")
    assert response.status_code == 200, response.json()
    detail = client.get("/api/apps/tiny").json()
    assert (detail["version"], detail["title"], len(detail["inputs"])) == (2, "Renamed", 1)


# Who may see, run and manage an app


@pytest.mark.parametrize("role", [*MEMBERS, "outsider"])
def test_members_see_a_workspace_app_and_outsiders_do_not(app, role, as_role):
    response = as_role(role).get("/api/apps/tiny")
    assert response.status_code == (404 if role == "outsider" else 200)
    listed = [item["slug"] for item in as_role(role).get("/api/apps").json()]
    assert listed == ([] if role == "outsider" else ["tiny"])


def test_a_runner_sees_the_form_but_cannot_open_the_graph(app, app_workflow, as_role):
    client = as_role("runner")
    detail = client.get("/api/apps/tiny").json()
    assert detail["can_run"] is True and detail["can_open_graph"] is False
    assert [item["name"] for item in detail["inputs"]] == ["width", "color", "prompt"]
    assert client.get(f"/api/workflows/{app_workflow.pk}").status_code == 404


@pytest.mark.parametrize("role", [*MEMBERS, "outsider"])
def test_runners_and_above_run_a_workspace_app(app, role, as_role):
    response = as_role(role).post("/api/apps/tiny/runs", {"width": 16}, format="json")
    expected = 201 if role in RUNNERS else 404 if role == "outsider" else 403
    assert response.status_code == expected, response.json()
    if expected == 201:
        run = Run.objects.get(pk=response.json()["id"])
        assert run.graph["nodes"]["1"]["inputs"]["width"] == 16
        assert AppRun.objects.get(run=run).via == "member"


def test_anonymous_callers_get_404_for_a_workspace_app(app, anon):
    assert anon.get("/api/apps/tiny").status_code == 404
    assert anon.post("/api/apps/tiny/runs", {}, format="json").status_code == 404


@pytest.mark.parametrize("role", [*MEMBERS, "outsider"])
def test_only_editors_manage_an_app_and_its_keys(app, role, as_role):
    client = as_role(role)
    allowed = role in EDITORS
    expected = 200 if allowed else 404 if role == "outsider" else 403
    assert client.patch("/api/apps/tiny", {"title": "New"}, format="json").status_code == expected
    assert client.get("/api/apps/tiny/keys").status_code == expected
    response = client.post("/api/apps/tiny/keys", {"name": "k"}, format="json")
    assert response.status_code == (201 if allowed else expected)


def test_an_unpublished_app_is_seen_by_editors_only(app, as_role):
    assert as_role("editor").patch("/api/apps/tiny", {"enabled": False}, format="json").status_code == 200
    assert as_role("editor").get("/api/apps/tiny").status_code == 200
    assert as_role("runner").get("/api/apps/tiny").status_code == 404
    assert as_role("runner").post("/api/apps/tiny/runs", {}, format="json").status_code == 404


def test_a_public_app_is_run_by_anyone_without_a_role(public_app, anon, as_role):
    assert anon.get("/api/apps/tiny").status_code == 200
    response = anon.post("/api/apps/tiny/runs", {"prompt": "from the public"}, format="json")
    assert response.status_code == 201, response.json()
    record = AppRun.objects.get(run_id=response.json()["id"])
    assert (record.via, record.caller) == ("public", "ip:127.0.0.1")
    assert (
        Run.objects.get(app_run=record).created_by == public_app.created_by
    )  # attributed to the publisher for fair use
    # The viewer has no run right in the workspace: they run it as the public does.
    response = as_role("viewer").post("/api/apps/tiny/runs", {}, format="json")
    assert response.status_code == 201
    assert AppRun.objects.get(run_id=response.json()["id"]).via == "public"
    assert anon.patch("/api/apps/tiny", {"title": "x"}, format="json").status_code in (401, 403)
    assert as_role("outsider").get("/api/apps/tiny/keys").status_code == 403


def test_public_callers_are_rate_limited_per_app_with_retry_after(public_app, anon):
    for _ in range(public_app.public_rate_limit):
        assert anon.post("/api/apps/tiny/runs", {}, format="json").status_code == 201
    response = anon.post("/api/apps/tiny/runs", {}, format="json")
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response.json()["errors"][0]["field"] == "rate_limit"
    other = APIClient(REMOTE_ADDR="10.1.2.3")
    assert other.post("/api/apps/tiny/runs", {}, format="json").status_code == 201


def test_members_are_not_rate_limited(public_app, as_role):
    client = as_role("runner")
    for _ in range(public_app.public_rate_limit + 2):
        assert client.post("/api/apps/tiny/runs", {}, format="json").status_code == 201


# Inputs: types, limits and errors that name the input


@pytest.mark.parametrize(
    "body,field,words",
    [
        ({"width": 65}, "width", "above the maximum 64"),
        ({"width": 0}, "width", "below the minimum 1"),
        ({"width": "big"}, "width", "expected an integer"),
        ({"width": 2.5}, "width", "expected an integer"),
        ({"prompt": 7}, "prompt", "expected a string"),
        ({"colour": 3}, "colour", "not an input"),
        ({"color": 16777216}, "color", "above the maximum"),
    ],
)
def test_bad_inputs_answer_400_naming_the_input(app, as_role, body, field, words):
    response = as_role("runner").post("/api/apps/tiny/runs", body, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["errors"][0]["field"] == field
    assert words in response.json()["errors"][0]["message"] or words in response.json()["detail"]
    assert Run.objects.count() == 0


def test_a_body_that_is_not_an_object_is_refused(app, as_role):
    response = as_role("runner").post("/api/apps/tiny/runs", [1, 2], format="json")
    assert response.status_code == 400


def test_inputs_left_out_keep_their_defaults_and_are_recorded(app, as_role):
    response = as_role("runner").post("/api/apps/tiny/runs", {"prompt": "a cat"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["inputs"] == {"width": 8, "color": 0, "prompt": "a cat"}
    assert set(body) >= {"id", "status", "outputs", "progress"}


# Idempotency


def test_a_retried_post_with_the_same_idempotency_key_returns_the_same_run(app, as_role):
    client = as_role("runner")
    first = client.post("/api/apps/tiny/runs", {"width": 9}, format="json", HTTP_IDEMPOTENCY_KEY="abc")
    again = client.post("/api/apps/tiny/runs", {"width": 9}, format="json", HTTP_IDEMPOTENCY_KEY="abc")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert Run.objects.count() == 1
    different = client.post("/api/apps/tiny/runs", {"width": 10}, format="json", HTTP_IDEMPOTENCY_KEY="abc")
    assert different.status_code == 422
    assert different.json()["errors"][0]["field"] == "Idempotency-Key"
    assert Run.objects.count() == 1


def test_idempotency_keys_belong_to_their_caller(app, as_role):
    one = as_role("runner").post("/api/apps/tiny/runs", {}, format="json", HTTP_IDEMPOTENCY_KEY="same")
    two = as_role("editor").post("/api/apps/tiny/runs", {}, format="json", HTTP_IDEMPOTENCY_KEY="same")
    assert (one.status_code, two.status_code) == (201, 201)
    assert one.json()["id"] != two.json()["id"]


def test_a_failed_request_frees_its_idempotency_key(app, as_role):
    client = as_role("runner")
    bad = client.post("/api/apps/tiny/runs", {"width": 999}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert bad.status_code == 400
    good = client.post("/api/apps/tiny/runs", {"width": 9}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert good.status_code == 201


# App keys


def test_an_app_key_is_shown_once_and_stored_hashed(app, as_role):
    raw = new_key(app, as_role)
    assert raw.startswith("fyk_")
    key = AppKey.objects.get()
    assert key.key_hash != raw and raw not in key.key_hash
    listed = as_role("editor").get("/api/apps/tiny/keys").json()
    assert "key" not in listed[0] and listed[0]["prefix"] == raw[:12]


def test_an_app_key_runs_its_app_and_reads_its_runs_and_nothing_else(app, app_workflow, alice, as_role):
    raw = new_key(app, as_role)
    client = key_client(raw)
    response = client.post("/api/apps/tiny/runs", {"width": 12}, format="json")
    assert response.status_code == 201, response.json()
    run_id = response.json()["id"]
    assert AppRun.objects.get(run_id=run_id).via == "key"
    assert client.get(f"/api/apps/tiny/runs/{run_id}").status_code == 200
    assert [item["id"] for item in client.get("/api/apps/tiny/runs").json()] == [run_id]
    # A member's run of the same app is not the key's to read.
    member_run = as_role("runner").post("/api/apps/tiny/runs", {}, format="json").json()["id"]
    assert client.get(f"/api/apps/tiny/runs/{member_run}").status_code == 404
    # Nothing else: managing the app, other apps, the rest of the API.
    assert client.get("/api/apps/tiny/keys").status_code == 403
    assert client.patch("/api/apps/tiny", {"title": "x"}, format="json").status_code == 403
    from backend.flowapps.actions import do_publish_app

    do_publish_app(alice, app_workflow.versions.get(), slug="other", title="Other")
    assert client.get("/api/apps/other").status_code == 404
    assert client.post("/api/apps/other/runs", {}, format="json").status_code == 404
    assert client.get("/api/runs").status_code == 401
    assert client.get(f"/api/runs/{run_id}").status_code == 401
    assert client.get(f"/api/workflows/{app_workflow.pk}").status_code == 401


def test_a_revoked_app_key_is_refused(app, as_role):
    raw = new_key(app, as_role)
    key = AppKey.objects.get()
    assert as_role("editor").delete(f"/api/apps/tiny/keys/{key.pk}").status_code == 204
    assert key_client(raw).post("/api/apps/tiny/runs", {}, format="json").status_code == 401
    assert key_client("fyk_made-up").get("/api/apps/tiny").status_code == 401


# Reading runs


def test_members_read_every_run_of_the_app_and_outsiders_none(app, as_role):
    run_id = as_role("runner").post("/api/apps/tiny/runs", {}, format="json").json()["id"]
    for role in MEMBERS:
        assert as_role(role).get(f"/api/apps/tiny/runs/{run_id}").status_code == 200
    assert as_role("outsider").get(f"/api/apps/tiny/runs/{run_id}").status_code == 404
    assert [r["id"] for r in as_role("viewer").get("/api/apps/tiny/runs").json()] == [run_id]


def test_the_public_reads_public_runs_only(public_app, anon, as_role):
    member_run = as_role("runner").post("/api/apps/tiny/runs", {}, format="json").json()["id"]
    public_run = anon.post("/api/apps/tiny/runs", {}, format="json").json()["id"]
    assert anon.get(f"/api/apps/tiny/runs/{public_run}").status_code == 200
    assert anon.get(f"/api/apps/tiny/runs/{member_run}").status_code == 404
    assert [r["id"] for r in anon.get("/api/apps/tiny/runs").json()] == [public_run]


# The app's OpenAPI document


def test_the_openapi_document_describes_the_exposed_inputs_and_outputs(app, as_role):
    doc = as_role("runner").get("/api/apps/tiny/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    inputs = doc["components"]["schemas"]["Inputs"]
    assert inputs["properties"]["width"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 64,
        "title": "Width",
        "description": "Pixels",
        "default": 8,
    }
    assert inputs["properties"]["prompt"]["type"] == "string"
    assert set(doc["components"]["schemas"]["Outputs"]["properties"]) == {"image", "text"}
    assert "/api/apps/tiny/runs" in doc["paths"]
    assert as_role("outsider").get("/api/apps/tiny/openapi.json").status_code == 404


def test_every_app_endpoint_is_in_the_api_schema(as_role):
    schema = as_role("runner").get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = set(schema["paths"])
    for path in [
        "/api/apps",
        "/api/apps/{slug}",
        "/api/apps/{slug}/openapi.json",
        "/api/apps/{slug}/keys",
        "/api/apps/{slug}/keys/{key_id}",
        "/api/apps/{slug}/runs",
        "/api/apps/{slug}/runs/{run_id}",
        "/api/apps/{slug}/uploads",
        "/api/apps/{slug}/outputs/{token}",
    ]:
        assert path in paths, path
