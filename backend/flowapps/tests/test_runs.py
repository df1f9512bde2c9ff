"""Apps end to end inside the server: runs execute, outputs come back with signed URLs, files come in as
upload ids or URLs from allowed hosts; the document's app section is checked on save."""

from __future__ import annotations

import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image
from rest_framework.test import APIClient

from backend.accounts.exceptions import ApiError
from backend.flowapps.actions import do_publish_app
from backend.flowapps.models import App
from backend.workflows.actions import do_create_workflow
from backend.workflows.documents import parse_document

IMAGE_GRAPH = {
    "nodes": {
        "1": {"type": "LoadImage", "inputs": {"image": "missing.png"}},
        "2": {"type": "ImageInvert", "inputs": {"image": ["1", 0]}},
        "3": {"type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "inverted"}},
    }
}
IMAGE_APP = {
    "inputs": [{"name": "photo", "node": "1", "input": "image", "label": "Photo"}],
    "outputs": [{"name": "inverted", "node": "3"}],
}


def png(size: tuple[int, int] = (4, 3), color: tuple[int, int, int] = (10, 20, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def invert_app(team, alice):
    document = parse_document(IMAGE_GRAPH, {"nodes": {}, "groups": [], "app": IMAGE_APP})
    workflow = do_create_workflow(alice, team, "Invert", document, visibility="private")
    version = workflow.versions.get()
    return do_publish_app(alice, version, slug="invert", title="Invert")


@pytest.fixture
def file_server():
    """A local HTTP server answering /small.png with a PNG and /big.png with more bytes than the limit."""
    body = png()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            data = body if self.path == "/small.png" else b"\x89PNG" + b"0" * 5000
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.django_db(transaction=True)
def test_a_runner_runs_the_app_and_downloads_its_outputs_by_signed_url(app, as_role, wait_for_run):
    client = as_role("runner")
    response = client.post("/api/apps/tiny/runs", {"width": 5, "prompt": "a fox"}, format="json")
    assert response.status_code == 201, response.json()
    run_id = response.json()["id"]
    assert wait_for_run(run_id).status == "succeeded"
    body = client.get(f"/api/apps/tiny/runs/{run_id}").json()
    assert body["status"] == "succeeded"
    assert body["progress"]["total"] == body["progress"]["finished"] == 4
    [image] = body["outputs"]["image"]
    assert image["kind"] == "image" and image["url"].startswith("http://testserver/api/apps/tiny/outputs/")
    # The signed URL works without credentials; the image is as wide as asked.
    data = _download(image["url"])
    assert Image.open(io.BytesIO(data)).size == (5, 4)
    kinds = {item["kind"]: item for item in body["outputs"]["text"]}
    assert kinds["text"]["text"] == "a fox"
    assert _download(kinds["file"]["url"]) == b"a fox"
    # A forged or altered token is refused.
    assert APIClient().get(image["url"][:-3] + "xyz").status_code == 404
    assert APIClient().get("/api/apps/tiny/outputs/1:abc:def").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_signed_urls_expire(app, as_role, wait_for_run, settings):
    client = as_role("runner")
    run_id = client.post("/api/apps/tiny/runs", {}, format="json").json()["id"]
    wait_for_run(run_id)
    url = client.get(f"/api/apps/tiny/runs/{run_id}").json()["outputs"]["image"][0]["url"]
    settings.FLOWYARD_APP_DOWNLOAD_URL_MAX_AGE = -1
    assert APIClient().get(url).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_an_image_input_takes_an_upload_id_of_the_app(invert_app, as_role, wait_for_run):
    raw = as_role("editor").post("/api/apps/invert/keys", {"name": "k"}, format="json").json()["key"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    upload = client.post("/api/apps/invert/uploads", {"file": _named(png())}, format="multipart")
    assert upload.status_code == 201, upload.json()
    response = client.post("/api/apps/invert/runs", {"photo": upload.json()["id"]}, format="json")
    assert response.status_code == 201, response.json()
    assert wait_for_run(response.json()["id"]).status == "succeeded"
    body = client.get(f"/api/apps/invert/runs/{response.json()['id']}").json()
    pixels = Image.open(io.BytesIO(_download(body["outputs"]["inverted"][0]["url"]))).convert("RGB")
    assert pixels.getpixel((0, 0)) == (245, 235, 225)
    missing = client.post("/api/apps/invert/runs", {"photo": 999999}, format="json")
    assert missing.status_code == 400 and missing.json()["errors"][0]["field"] == "photo"


@pytest.mark.django_db(transaction=True)
def test_urls_are_fetched_only_from_allowed_hosts_within_the_size_limit(
    invert_app, as_role, file_server, settings, wait_for_run
):
    client = as_role("runner")
    url = f"http://{file_server}/small.png"
    refused = client.post("/api/apps/invert/runs", {"photo": url}, format="json")
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["field"] == "photo" and "not allowed" in refused.json()["detail"]
    settings.FLOWYARD_APP_URL_HOSTS = [file_server]
    settings.FLOWYARD_APP_URL_MAX_BYTES = 1000
    response = client.post("/api/apps/invert/runs", {"photo": url}, format="json")
    assert response.status_code == 201, response.json()
    assert wait_for_run(response.json()["id"]).status == "succeeded"
    too_big = client.post("/api/apps/invert/runs", {"photo": f"http://{file_server}/big.png"}, format="json")
    assert too_big.status_code == 413 and too_big.json()["errors"][0]["field"] == "photo"
    schemes = client.post("/api/apps/invert/runs", {"photo": "file:///etc/passwd"}, format="json")
    assert schemes.status_code == 400 and schemes.json()["errors"][0]["field"] == "photo"


def _named(data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("photo.png", data, content_type="image/png")


def _download(url: str) -> bytes:
    response = APIClient().get(url)
    assert response.status_code == 200
    return b"".join(getattr(response, "streaming_content", [])) or response.content


# The app section of a workflow document


GRAPH = {
    "nodes": {
        "1": {"type": "EmptyImage", "inputs": {"width": 8}},
        "2": {"type": "SaveImage", "inputs": {"images": ["1", 0]}},
    }
}


@pytest.mark.parametrize(
    "section,field",
    [
        ({"inputs": [{"name": "w", "node": "9", "input": "width"}]}, "layout.app.inputs.0.node"),
        ({"inputs": [{"name": "w", "node": "1", "input": "nope"}]}, "layout.app.inputs.0.input"),
        ({"inputs": [{"name": "i", "node": "2", "input": "images"}]}, "layout.app.inputs.0.input"),
        (
            {
                "inputs": [
                    {"name": "w", "node": "1", "input": "width"},
                    {"name": "w", "node": "1", "input": "height"},
                ]
            },
            "layout.app.inputs.1.name",
        ),
        (
            {"inputs": [{"name": "w", "node": "1", "input": "width", "min": 5, "max": 2}]},
            "layout.app.inputs.0.min",
        ),
        ({"inputs": [{"name": "bad name", "node": "1", "input": "width"}]}, "layout.app.inputs.0.name"),
        ({"outputs": [{"name": "o", "node": "1"}]}, "layout.app.outputs.0.node"),
        ({"inputs": [], "extra": 1}, "layout.app.extra"),
    ],
)
def test_the_app_section_is_checked_against_the_graph_and_node_schemas(section, field):
    with pytest.raises(ApiError) as caught:
        parse_document(GRAPH, {"app": section})
    assert caught.value.payload["errors"][0]["field"] == field


def test_a_valid_app_section_is_kept_in_the_layout_and_counts_in_the_hash():
    section = {
        "inputs": [{"name": "w", "node": "1", "input": "width", "max": 64}],
        "outputs": [{"name": "o", "node": "2"}],
    }
    document = parse_document(GRAPH, {"app": section})
    assert document.layout["app"] == section
    assert document.content_hash != parse_document(GRAPH, {}).content_hash


@pytest.mark.django_db
def test_the_app_model_says_what_it_exposes(app):
    assert [item["name"] for item in App.objects.get().section()["inputs"]] == ["width", "color", "prompt"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_posts_with_one_idempotency_key_start_one_run(app, rita):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    from backend.runs.models import Run

    def post(_: int) -> tuple[int, str | None]:
        client = APIClient()
        client.force_login(rita)
        try:
            response = client.post(
                "/api/apps/tiny/runs", {"width": 9}, format="json", HTTP_IDEMPOTENCY_KEY="same"
            )
            return response.status_code, response.json().get("id")
        finally:
            connection.close()

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(post, range(4)))
    codes = sorted(code for code, _ in answers)
    assert codes.count(201) == 1, answers
    assert set(codes) <= {200, 201, 409}, answers
    assert len({run_id for code, run_id in answers if code in (200, 201)}) == 1
    assert Run.objects.count() == 1


@pytest.mark.django_db
def test_a_url_that_is_not_an_image_is_refused_naming_the_input(invert_app, as_role, file_server, settings):
    settings.FLOWYARD_APP_URL_HOSTS = [file_server]
    response = as_role("runner").post(
        "/api/apps/invert/runs", {"photo": f"http://{file_server}/big.png"}, format="json"
    )
    assert response.status_code == 400, response.json()
    assert response.json()["errors"][0]["field"] == "photo"
    assert "image" in response.json()["detail"]
