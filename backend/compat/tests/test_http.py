"""Conformance of the ComfyUI HTTP API: shapes as ComfyUI's server.py/execution.py answer, validation errors in
ComfyUI's shape, authentication variants, and access (owner / other user / no token)."""

from __future__ import annotations

import base64
import copy
import logging
import time

import pytest
from django.apps import apps
from django.db import connection
from django.test import override_settings
from django.urls import resolve
from rest_framework.test import APIClient

from backend.compat.models import ComfyPrompt
from backend.compat.tests.conftest import IMAGE_PROMPT, png_bytes
from backend.runs.models import Run

pytestmark = pytest.mark.django_db(transaction=True)


def submit(client, prompt, path="/comfy/prompt", **body):
    return client.post(path, {"prompt": prompt, **body}, format="json")


def test_a_prompt_runs_as_a_comfy_run_with_comfyui_history_and_view(alice, comfy_client, wait_prompt):
    client = comfy_client(alice)
    answer = submit(client, IMAGE_PROMPT, client_id="tab-1")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert set(body) == {"prompt_id", "number", "node_errors"} and body["node_errors"] == {}
    run = wait_prompt(body["prompt_id"])
    assert run.status == Run.Status.SUCCEEDED and run.source == "comfy" and run.created_by == alice
    assert run.workspace == alice.personal_workspace

    entry = client.get(f"/comfy/history/{body['prompt_id']}").json()[body["prompt_id"]]
    assert entry["prompt"][:2] == [body["number"], body["prompt_id"]]
    assert entry["prompt"][2] == IMAGE_PROMPT and entry["prompt"][3] == {"client_id": "tab-1"}
    assert entry["prompt"][4] == ["3"]
    image = entry["outputs"]["3"]["images"][0]
    assert image == {"filename": "ComfyUI_00001.png", "subfolder": body["prompt_id"], "type": "output"}
    assert entry["status"]["status_str"] == "success" and entry["status"]["completed"] is True
    kinds = [message[0] for message in entry["status"]["messages"]]
    assert kinds == ["execution_start", "execution_cached", "execution_success"]
    assert set(entry["status"]["messages"][0][1]) == {"prompt_id", "timestamp"}
    assert entry["meta"]["3"] == {
        "node_id": "3",
        "display_node": "3",
        "parent_node": None,
        "real_node_id": "3",
    }

    listed = client.get("/comfy/api/history?max_items=5").json()
    assert list(listed) == [body["prompt_id"]]
    view = client.get("/comfy/view", image)
    assert view.status_code == 200 and view["Content-Type"] == "image/png"
    assert b"".join(view.streaming_content).startswith(b"\x89PNG")
    # The same run is an ordinary Flowyard run.
    assert client.get(f"/api/runs/{run.pk}").json()["source"] == "comfy"


def test_every_token_spelling_authenticates_and_anything_else_is_refused(alice, token_for, client_for):
    token = token_for(alice)
    basic = base64.b64encode(f"anyone:{token}".encode()).decode()
    ok = [
        APIClient().get("/comfy/prompt", HTTP_AUTHORIZATION=f"Bearer {token}"),
        APIClient().get("/comfy/prompt", HTTP_AUTHORIZATION=f"Basic {basic}"),
        APIClient().get(f"/comfy/prompt?token={token}"),
        APIClient().get(f"/comfy/t/{token}/prompt"),
        APIClient().get(f"/comfy/t/{token}/api/prompt"),
        client_for(alice).get("/comfy/prompt"),  # the browser session, for reads
    ]
    for answer in ok:
        assert answer.status_code == 200 and answer.json() == {"exec_info": {"queue_remaining": 0}}
    refused = [
        APIClient().get("/comfy/prompt"),
        APIClient().get("/comfy/prompt", HTTP_AUTHORIZATION="Bearer wrong"),
        APIClient().get("/comfy/t/wrong/prompt"),
        APIClient().post("/comfy/prompt", {"prompt": IMAGE_PROMPT}, format="json"),
    ]
    for answer in refused:
        assert answer.status_code == 401


@pytest.mark.parametrize(
    ("change", "node", "kind", "input_name"),
    [
        (lambda p: p["3"]["inputs"].pop("images"), "3", "required_input_missing", "images"),
        (lambda p: p["1"]["inputs"].update(width=100000), "1", "value_bigger_than_max", "width"),
        (lambda p: p["1"]["inputs"].update(width=0), "1", "value_smaller_than_min", "width"),
        (lambda p: p["3"]["inputs"].update(images=["1", 5]), "3", "bad_linked_input", "images"),
        (
            lambda p: (
                p.update({"4": {"class_type": "PrimitiveInt", "inputs": {"value": 1}}})
                or p["2"]["inputs"].update(image=["4", 0])
            ),
            "2",
            "return_type_mismatch",
            "image",
        ),  # fmt: skip
    ],
)
def test_validation_errors_have_comfyuis_shape(alice, comfy_client, change, node, kind, input_name):
    prompt = copy.deepcopy(IMAGE_PROMPT)
    change(prompt)
    answer = submit(comfy_client(alice), prompt)
    assert answer.status_code == 400
    body = answer.json()
    assert body["error"]["type"] == "prompt_outputs_failed_validation"
    assert set(body["error"]) == {"type", "message", "details", "extra_info"}
    entry = body["node_errors"][node]
    assert entry["class_type"] == prompt[node]["class_type"] and entry["dependent_outputs"] == ["3"]
    error = entry["errors"][0]
    assert set(error) == {"type", "message", "details", "extra_info"}
    assert error["type"] == kind and error["extra_info"]["input_name"] == input_name
    assert not ComfyPrompt.objects.exists()


def test_combo_values_unknown_types_and_missing_outputs(alice, comfy_client):
    client = comfy_client(alice)
    scale = copy.deepcopy(IMAGE_PROMPT)
    scale["2"] = {"class_type": "ImageScale", "inputs": {"image": ["1", 0], "upscale_method": "magic",
                                                         "width": 4, "height": 4, "crop": "disabled"}}  # fmt: skip
    error = submit(client, scale).json()["node_errors"]["2"]["errors"][0]
    assert error["type"] == "value_not_in_list" and "magic" in error["details"]
    unknown = {**IMAGE_PROMPT, "9": {"class_type": "KSampler", "inputs": {}}}
    body = submit(client, unknown).json()
    assert body["error"]["type"] == "invalid_prompt" and "KSampler" in body["error"]["message"]
    assert body["error"]["details"] == "Node ID '#9'"
    no_outputs = {"1": IMAGE_PROMPT["1"]}
    assert submit(client, no_outputs).json()["error"]["type"] == "prompt_no_outputs"
    assert client.post("/comfy/prompt", {}, format="json").json()["error"]["type"] == "no_prompt"


def test_valid_outputs_are_queued_and_invalid_ones_reported(alice, comfy_client, wait_prompt):
    prompt = copy.deepcopy(IMAGE_PROMPT)
    prompt["4"] = {"class_type": "PreviewImage", "inputs": {"images": ["5", 0]}}
    prompt["5"] = {"class_type": "ImageBlur", "inputs": {"image": ["1", 0], "blur_radius": 99, "sigma": 1.0}}
    answer = submit(comfy_client(alice), prompt)
    assert answer.status_code == 200
    body = answer.json()
    assert body["node_errors"]["5"]["dependent_outputs"] == ["4"]
    run = wait_prompt(body["prompt_id"])
    assert run.status == Run.Status.SUCCEEDED and run.outputs == ["3"]


def test_unknown_inputs_are_ignored_and_comfy_spellings_of_uploads_accepted(alice, comfy_client, wait_prompt):
    client = comfy_client(alice)
    uploaded = client.post(
        "/comfy/upload/image", {"image": _file("photo.png"), "subfolder": "clipspace", "type": "input"}
    ).json()
    assert uploaded == {"name": "photo.png", "subfolder": "clipspace", "type": "input"}
    renamed = client.post("/comfy/upload/image", {"image": _file("photo.png", color=(1, 2, 3))}).json()
    assert renamed["name"] == "photo (1).png"
    for spelling in ("photo.png [input]", "clipspace/photo.png"):
        prompt = {
            "1": {"class_type": "LoadImage", "inputs": {"image": spelling, "upload": "image"}},
            "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}},
        }
        body = submit(client, prompt).json()
        assert body.get("node_errors") == {}, body
        run = wait_prompt(body["prompt_id"])
        assert run.status == Run.Status.SUCCEEDED
        entry = client.get(f"/comfy/history/{body['prompt_id']}").json()[body["prompt_id"]]
        assert entry["outputs"]["2"]["images"][0]["type"] == "temp"
    view = client.get("/comfy/view", {"filename": "photo.png", "type": "input", "subfolder": "clipspace"})
    assert view.status_code == 200


def _file(name, color=(200, 30, 30)):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, png_bytes(color), content_type="image/png")


def test_others_see_nothing_of_a_users_queue_history_and_files(alice, oscar, comfy_client, wait_prompt):
    owner, other = comfy_client(alice), comfy_client(oscar)
    prompt_id = submit(owner, IMAGE_PROMPT).json()["prompt_id"]
    wait_prompt(prompt_id)
    image = owner.get(f"/comfy/history/{prompt_id}").json()[prompt_id]["outputs"]["3"]["images"][0]
    assert other.get(f"/comfy/history/{prompt_id}").status_code == 404
    assert other.get("/comfy/history").json() == {}
    assert other.get("/comfy/view", image).status_code == 404
    assert other.get("/comfy/queue").json() == {"queue_running": [], "queue_pending": []}
    assert APIClient().get("/comfy/view", image).status_code == 401
    assert APIClient().get("/comfy/history").status_code == 401
    owner.post("/comfy/upload/image", {"image": _file("mine.png")})
    assert other.get("/comfy/view", {"filename": "mine.png", "type": "input"}).status_code == 404


def test_queue_delete_and_interrupt_act_on_the_callers_prompts(
    alice, oscar, comfy_client, settings, wait_prompt
):
    settings.FLOWYARD_MAX_RUNNING_PER_USER = 1
    settings.FLOWYARD_LEND_IDLE_WORKERS = False  # the second run waits although a worker is idle
    client = comfy_client(alice)
    slow = {"1": {"class_type": "test.Slow", "inputs": {"steps": 400, "step_seconds": 0.02}},
            "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}}}  # fmt: skip
    first = submit(client, slow).json()["prompt_id"]
    second = submit(client, slow, number=7).json()["prompt_id"]
    # The first is claimed by a worker thread: on a busy machine, not at once.
    deadline = time.monotonic() + 20
    while ComfyPrompt.objects.get(prompt_id=first).run.status == "queued" and time.monotonic() < deadline:
        time.sleep(0.01)
    queue = client.get("/comfy/queue").json()
    assert [item[1] for item in queue["queue_pending"]] == [second]
    assert queue["queue_pending"][0][0] == 7 and len(queue["queue_pending"][0]) == 5
    assert client.get("/comfy/prompt").json() == {"exec_info": {"queue_remaining": 2}}
    assert client.post("/comfy/queue", {"delete": [second]}, format="json").status_code == 200
    assert wait_prompt(second).status == Run.Status.CANCELLED
    comfy_client(oscar).post("/comfy/interrupt", {}, format="json")  # someone else's interrupt: no effect
    assert ComfyPrompt.objects.get(prompt_id=first).run.status in ("queued", "running")
    assert client.post("/comfy/interrupt", {"prompt_id": first}, format="json").status_code == 200
    assert wait_prompt(first).status == Run.Status.CANCELLED
    entry = client.get(f"/comfy/history/{first}").json()[first]
    assert entry["status"]["status_str"] == "error"
    assert entry["status"]["messages"][-1][0] == "execution_interrupted"


def test_secrets_in_extra_data_are_never_stored_echoed_or_logged(alice, comfy_client, wait_prompt, caplog):
    secrets = ["sk-comfy-org-123456", "tok-auth-987654", "hunter2-pass", "nested-secret-55"]
    extra = {
        "api_key_comfy_org": secrets[0],
        "auth_token_comfy_org": secrets[1],
        "my_password": secrets[2],
        "extra_pnginfo": {"workflow": {"note": "kept"}, "client_secret": secrets[3]},
        "preview_method": "auto",
    }
    caplog.set_level(logging.DEBUG)
    client = comfy_client(alice)
    prompt_id = submit(client, IMAGE_PROMPT, extra_data=extra).json()["prompt_id"]
    wait_prompt(prompt_id)
    stored = ComfyPrompt.objects.get(prompt_id=prompt_id).extra_data
    assert stored == {"extra_pnginfo": {"workflow": {"note": "kept"}}, "preview_method": "auto"}
    answers = [
        client.get(path).content.decode()
        for path in ("/comfy/history", "/comfy/queue", f"/comfy/history/{prompt_id}")
    ]
    tables = set(connection.introspection.table_names())
    models = [model for model in apps.get_models() if model._meta.db_table in tables]
    rows = [str(row) for model in models for row in model._default_manager.all().values()]
    for secret in secrets:
        assert all(secret not in text for text in answers)
        assert all(secret not in row for row in rows)
        assert secret not in caplog.text


def test_object_info_converts_our_schemas_to_comfyuis_shape(alice, comfy_client):
    client = comfy_client(alice)
    client.post("/comfy/upload/image", {"image": _file("cat.png")})
    info = client.get("/comfy/object_info").json()
    empty = info["EmptyImage"]
    assert empty["input"]["required"]["width"] == ["INT", {"default": 512, "min": 1, "max": 16384, "step": 1}]
    assert (
        empty["output"] == ["IMAGE"] and empty["output_is_list"] == [False] and empty["output_node"] is False
    )
    assert set(empty) >= {"input", "input_order", "output", "output_is_list", "output_name", "name",
                          "display_name", "description", "python_module", "category", "output_node"}  # fmt: skip
    scale = info["ImageScale"]["input"]["required"]
    assert scale["image"][0] == "IMAGE" and isinstance(scale["upscale_method"][0], list)
    assert "nearest-exact" in scale["upscale_method"][0]
    assert info["LoadImage"]["input"]["required"]["image"] == [["cat.png"], {"tooltip": "An uploaded image file",
                                                                            "image_upload": True}]  # fmt: skip
    assert info["Seed"]["input"]["required"]["seed"][1]["control_after_generate"] is True
    assert info["PreviewAny"]["input"]["required"]["source"][0] == "*"
    assert info["SaveImage"]["output_node"] is True
    assert client.get("/comfy/object_info/ImageInvert").json()["ImageInvert"]["name"] == "ImageInvert"
    assert client.get("/comfy/object_info/KSampler").json() == {}


def test_server_information_endpoints(alice, comfy_client):
    client = comfy_client(alice)
    stats = client.get("/comfy/system_stats").json()
    assert set(stats) == {"system", "devices"}
    assert {"os", "ram_total", "ram_free", "comfyui_version", "python_version", "embedded_python"} <= set(
        stats["system"]
    )
    assert client.get("/comfy/features").json()["supports_preview_metadata"] is True
    for path in ("/comfy/embeddings", "/comfy/models", "/comfy/models/checkpoints", "/comfy/api/extensions"):
        assert client.get(path).json() == []


def test_a_team_workspace_is_chosen_per_prompt_or_per_token(
    alice, team, oscar, comfy_client, token_for, wait_prompt
):
    client = comfy_client(alice)
    body = submit(client, IMAGE_PROMPT, extra_data={"flowyard_workspace": team.pk}).json()
    assert wait_prompt(body["prompt_id"]).workspace == team
    token = token_for(alice)
    token_id = alice.api_tokens.order_by("-id").first().pk
    session = APIClient()
    session.force_login(alice)
    assert session.put(
        f"/api/comfy/tokens/{token_id}", {"workspace": team.slug and team.pk}, format="json"
    ).json() == {"workspace": team.pk}
    body = submit(APIClient(), IMAGE_PROMPT, path=f"/comfy/t/{token}/prompt").json()
    assert wait_prompt(body["prompt_id"]).workspace == team
    outsider = submit(comfy_client(oscar), IMAGE_PROMPT, extra_data={"flowyard_workspace": team.pk})
    assert outsider.status_code == 404


@override_settings(ROOT_URLCONF="backend.compat.tests.root_urls")
def test_at_root_only_comfyuis_exact_paths_are_taken(alice, comfy_client):
    assert resolve("/prompt").url_name == "comfy-root-prompt"
    assert resolve("/api/history").url_name == "comfy-root-api-history"
    assert resolve("/api/runs").url_name == "runs"
    assert resolve("/workflows/new").url_name == "spa"
    assert resolve("/history-of-art").url_name == "spa"
    assert comfy_client(alice).get("/prompt").json() == {"exec_info": {"queue_remaining": 0}}


def test_a_gpu_only_node_without_a_gpu_is_a_node_error_naming_it(alice, comfy_client, monkeypatch):
    from backend.runs import dispatch

    monkeypatch.setattr(dispatch, "local_gpus", lambda: 0)
    prompt = {
        "1": {"class_type": "test.GpuInc", "inputs": {"value": 1}},
        "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}},
    }
    answer = submit(comfy_client(alice), prompt)
    assert answer.status_code == 400
    entry = answer.json()["node_errors"]["1"]
    assert entry["class_type"] == "test.GpuInc" and entry["dependent_outputs"] == ["2"]
    assert (
        "runs only on a GPU and this machine has no GPU"
        in entry["errors"][0]["details"] + entry["errors"][0]["message"]
    )
    assert not ComfyPrompt.objects.exists()
