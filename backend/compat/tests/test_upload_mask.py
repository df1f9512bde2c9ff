# mypy: disallow-untyped-defs=False
"""ComfyUI's ``POST /upload/mask`` (the mask editor's save): the original image named by ``original_ref`` gets the
painted mask's alpha channel and is stored as a PNG under the mask's name, answered like ``/upload/image``.
The original is reached only as ``/view`` reaches it (an outsider gets the missing file's 404), and every bad
input answers 400 naming its field. Images are real PNGs/JPEGs with distinct pixels, checked pixel by pixel."""

from __future__ import annotations

import asyncio
import io
import json
import random

import pytest
from asgiref.sync import async_to_sync
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http.multipartparser import MultiPartParser
from django.test.client import encode_multipart
from PIL import Image, ImageOps, PngImagePlugin
from rest_framework.test import APIClient

from backend.compat.tests.conftest import IMAGE_PROMPT
from backend.core.body_limits import body_limit
from backend.runs.models import Run
from backend.uploads.actions import do_upload
from backend.uploads.models import Upload


def noise(mode: str, size: tuple[int, int], seed: int) -> Image.Image:
    """An image whose every byte is random (seeded): a swapped or shifted channel cannot pass unnoticed."""
    channels = len(mode)
    data = random.Random(seed).randbytes(size[0] * size[1] * channels)
    return Image.frombytes(mode, size, data)


def encoded(image: Image.Image, image_format: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def as_file(name: str, data: bytes, content_type: str = "image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def viewed(client, **params) -> Image.Image:
    response = client.get("/comfy/view", params)
    assert response.status_code == 200, response.content
    image = Image.open(io.BytesIO(b"".join(response.streaming_content)))
    image.load()
    return image


def post_mask(client, mask: bytes | None, original_ref, name: str = "clipspace-mask-1.png", **fields):
    form = dict(fields)
    if mask is not None:
        form["image"] = as_file(name, mask)
    if original_ref is not None:
        form["original_ref"] = original_ref if isinstance(original_ref, str) else json.dumps(original_ref)
    headers = {}
    if "workspace" in form:
        headers["HTTP_X_FLOWYARD_WORKSPACE"] = str(form.pop("workspace"))
    return client.post("/comfy/upload/mask", form, **headers)


@pytest.mark.django_db
def test_owner_and_team_member_get_the_original_with_the_masks_alpha(team, alice, rita, comfy_client):
    original = noise("RGB", (7, 5), seed=1)
    info = PngImagePlugin.PngInfo()
    info.add_text("workflow", '{"nodes": []}')
    owner = comfy_client(alice)
    stored = owner.post(
        "/comfy/upload/image",
        {"image": as_file("photo.png", encoded(original, pnginfo=info)), "subfolder": "clipspace"},
        HTTP_X_FLOWYARD_WORKSPACE=str(team.pk),
    )
    assert stored.status_code == 200, stored.content
    ref = {"filename": "photo.png", "subfolder": "clipspace", "type": "input"}

    for seed, user in enumerate((alice, rita), start=10):  # the team's owner, and a member with `run`
        client = comfy_client(user)
        painted = noise("RGBA", (7, 5), seed=seed)  # the mask editor's canvas: only its alpha is the mask
        name = f"clipspace-mask-{seed}.png"
        answer = post_mask(client, encoded(painted), ref, name, subfolder="clipspace", type="input",
                           workspace=team.pk)  # fmt: skip
        assert answer.status_code == 200, answer.content
        assert answer.json() == {"name": name, "subfolder": "clipspace", "type": "input"}

        result = viewed(client, filename=name, subfolder="clipspace", type="input", workspace=team.pk)
        assert result.format == "PNG" and result.mode == "RGBA" and result.size == (7, 5)
        assert result.getchannel("A").tobytes() == painted.getchannel("A").tobytes()
        assert result.convert("RGB").tobytes() == original.tobytes()
        assert result.info["workflow"] == '{"nodes": []}'  # the original's PNG text chunks are kept
        upload = Upload.objects.get(workspace=team, name=name)
        assert (upload.kind, upload.content_type, upload.width, upload.height) == ("image", "image/png", 7, 5)
        assert upload.created_by == user


@pytest.mark.django_db
def test_the_mask_name_follows_upload_images_rules_and_overwrite_is_honoured(alice, comfy_client):
    client = comfy_client(alice)
    original = noise("RGB", (4, 3), seed=2)
    client.post("/comfy/upload/image", {"image": as_file("base.png", encoded(original))})
    ref = {"filename": "base.png", "type": "input"}
    first, second = noise("RGBA", (4, 3), seed=3), noise("RGBA", (4, 3), seed=4)

    assert post_mask(client, encoded(first), ref, "mask.png").json()["name"] == "mask.png"
    # Other content under a taken name: the next free name (as ComfyUI); with overwrite the name is replaced.
    assert post_mask(client, encoded(second), ref, "mask.png").json()["name"] == "mask (1).png"
    replaced = post_mask(client, encoded(second), ref, "mask.png", overwrite="true")
    assert replaced.json() == {"name": "mask.png", "subfolder": "", "type": "input"}
    alpha = viewed(client, filename="mask.png", type="input").getchannel("A").tobytes()
    assert alpha == second.getchannel("A").tobytes() != first.getchannel("A").tobytes()
    # A mask without an alpha channel is an opaque one, as in ComfyUI (it converts the mask to RGBA).
    assert post_mask(client, encoded(noise("RGB", (4, 3), seed=5)), ref, "flat.png").status_code == 200
    assert set(viewed(client, filename="flat.png", type="input").getchannel("A").tobytes()) == {255}


@pytest.mark.django_db
def test_an_exif_rotated_original_is_masked_as_shown(alice, comfy_client):
    """The browser shows a JPEG turned by its EXIF orientation and the mask is painted on that; ComfyUI would fail
    on the size. Flowyard turns the original first (as LoadImage does), so the result is upright."""
    client = comfy_client(alice)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to show
    jpeg = encoded(noise("RGB", (6, 4), seed=6), "JPEG", exif=exif.tobytes(), quality=95)
    client.post("/comfy/upload/image", {"image": as_file("phone.jpg", jpeg, "image/jpeg")})
    shown = ImageOps.exif_transpose(Image.open(io.BytesIO(jpeg))).convert("RGB")
    assert shown.size == (4, 6)
    painted = noise("RGBA", (4, 6), seed=7)
    answer = post_mask(client, encoded(painted), {"filename": "phone.jpg", "type": "input"}, "phone-mask.png")
    assert answer.status_code == 200, answer.content
    result = viewed(client, filename="phone-mask.png", type="input")
    assert result.size == (4, 6) and result.convert("RGB").tobytes() == shown.tobytes()
    assert result.getchannel("A").tobytes() == painted.getchannel("A").tobytes()


@pytest.mark.django_db
def test_an_outsider_gets_the_missing_files_404_for_another_teams_original(team, alice, oscar, comfy_client):
    comfy_client(alice).post("/comfy/upload/image", {"image": as_file("secret.png", encoded(noise("RGB", (5, 5), 8)))},
                             HTTP_X_FLOWYARD_WORKSPACE=str(team.pk))  # fmt: skip
    outsider = comfy_client(oscar)
    mask = encoded(noise("RGBA", (5, 5), seed=9))
    missing = post_mask(outsider, mask, {"filename": "no-such.png", "type": "input"})
    assert missing.status_code == 404
    # By name in his own workspace: the team's upload is not there; naming the team: not his to use.
    by_name = post_mask(outsider, mask, {"filename": "secret.png", "type": "input"})
    assert (by_name.status_code, by_name.json()) == (404, missing.json())
    in_team = post_mask(outsider, mask, {"filename": "secret.png", "type": "input"}, workspace=team.pk)
    assert in_team.status_code == 404
    assert not Upload.objects.filter(created_by=oscar).exists()


@pytest.mark.django_db
def test_a_viewer_may_not_store_a_mask(team, alice, vera, comfy_client):
    comfy_client(alice).post("/comfy/upload/image", {"image": as_file("team.png", encoded(noise("RGB", (3, 3), 11)))},
                             HTTP_X_FLOWYARD_WORKSPACE=str(team.pk))  # fmt: skip
    answer = post_mask(comfy_client(vera), encoded(noise("RGBA", (3, 3), 12)),
                       {"filename": "team.png", "type": "input"}, workspace=team.pk)  # fmt: skip
    assert answer.status_code == 403
    assert Upload.objects.filter(workspace=team).count() == 1


GOOD_REF = {"filename": "base.png", "subfolder": "", "type": "input"}
BAD_INPUTS = [
    # (case, mask image or None, original_ref, other form fields, the field the 400 names)
    ("no image", None, GOOD_REF, {}, "'image'"),
    ("no original_ref", "mask", None, {}, "original_ref"),
    ("original_ref not JSON", "mask", '{"filename": "base.png"', {}, "original_ref"),
    ("original_ref not an object", "mask", '["base.png"]', {}, "original_ref"),
    ("no filename", "mask", {"subfolder": "", "type": "input"}, {}, "original_ref.filename"),
    ("filename not a string", "mask", {"filename": 5, "type": "input"}, {}, "original_ref.filename"),
    ("filename with ..", "mask", {"filename": "../base.png", "type": "input"}, {}, "original_ref.filename"),
    ("absolute filename", "mask", {"filename": "/etc/passwd", "type": "input"}, {}, "original_ref.filename"),
    ("filename with NUL", "mask", {"filename": "base\x00.png", "type": "input"}, {}, "original_ref.filename"),
    ("subfolder with ..", "mask", {**GOOD_REF, "subfolder": "a/../../b"}, {}, "original_ref.subfolder"),
    ("unknown type", "mask", {**GOOD_REF, "type": "models"}, {}, "original_ref.type"),
    ("form subfolder with ..", "mask", GOOD_REF, {"subfolder": "../up"}, "subfolder"),
    ("form type unknown", "mask", GOOD_REF, {"type": "checkpoints"}, "type"),
    ("image not an image", "text", GOOD_REF, {}, "image"),
    ("mask of another size", "small", GOOD_REF, {}, "image"),
    ("original not an image", "mask", {"filename": "notes.txt", "type": "input"}, {}, "original_ref"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("case", "mask", "ref", "fields", "field"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS]
)
def test_bad_input_answers_400_naming_the_field(alice, comfy_client, case, mask, ref, fields, field):
    client = comfy_client(alice)
    client.post("/comfy/upload/image", {"image": as_file("base.png", encoded(noise("RGB", (6, 5), seed=13)))})
    do_upload(alice, alice.personal_workspace, io.BytesIO(b"just words\n"), "notes.txt", kind="file")
    images = {
        "mask": encoded(noise("RGBA", (6, 5), seed=14)),
        "text": b"this is not a PNG at all",
        "small": encoded(noise("RGBA", (5, 6), seed=15)),
        None: None,
    }
    before = set(Upload.objects.values_list("name", flat=True))
    answer = post_mask(client, images[mask], ref, **fields)
    assert answer.status_code == 400, (answer.status_code, answer.content)
    error = answer.json()["error"]
    assert error.startswith(field) if field != "'image'" else field in error, error
    if case == "mask of another size":
        assert "5x6" in error and "6x5" in error
    assert set(Upload.objects.values_list("name", flat=True)) == before


@pytest.mark.django_db
def test_a_cross_site_mask_with_the_session_cookie_is_refused(alice, comfy_client):
    comfy_client(alice).post(
        "/comfy/upload/image", {"image": as_file("base.png", encoded(noise("RGB", (3, 2), 20)))}
    )
    page = APIClient()
    page.force_login(alice)
    mask, ref = encoded(noise("RGBA", (3, 2), 21)), json.dumps({"filename": "base.png", "type": "input"})
    refused = page.post("/comfy/upload/mask", {"image": as_file("m.png", mask), "original_ref": ref},
                        HTTP_ORIGIN="https://evil.example")  # fmt: skip
    assert refused.status_code == 403 and "Cross-site request refused" in refused.json()["error"]
    assert not Upload.objects.filter(name="m.png").exists()
    same_site = page.post("/comfy/upload/mask", {"image": as_file("m.png", mask), "original_ref": ref},
                          HTTP_ORIGIN="http://testserver")  # fmt: skip
    assert same_site.status_code == 200, same_site.content


@pytest.mark.django_db
def test_a_missing_original_answers_404(alice, comfy_client):
    answer = post_mask(comfy_client(alice), encoded(noise("RGBA", (2, 2), 16)), {"filename": "gone.png"})
    assert answer.status_code == 404 and answer.json() == {"error": "No such file."}


def asgi_post(path: str, token: str, fields: dict) -> tuple[int, dict]:
    """POST a multipart form through the whole ASGI application (body limits, streamed parsing, the view)."""
    from backend.asgi import application

    boundary = "mask-test-boundary"
    body = encode_multipart(boundary, fields)
    headers = [(b"authorization", f"Bearer {token}".encode()), (b"content-length", str(len(body)).encode()),
               (b"content-type", f"multipart/form-data; boundary={boundary}".encode())]  # fmt: skip
    scope = {"type": "http", "method": "POST", "path": path, "query_string": b"", "headers": headers,
             "http_version": "1.1", "scheme": "http", "server": ("testserver", 80), "client": ("127.0.0.1", 1)}  # fmt: skip
    chunks = [body[start : start + 4096] for start in range(0, len(body), 4096)]
    sent: list[dict] = []

    async def receive():
        if not chunks:
            await asyncio.Event().wait()  # the client waits for its answer
        return {"type": "http.request", "body": chunks.pop(0), "more_body": bool(chunks)}

    async def send(message):
        sent.append(message)

    async_to_sync(application)(scope, receive, send)
    status = next(message["status"] for message in sent if message["type"] == "http.response.start")
    payload = b"".join(
        message.get("body", b"") for message in sent if message["type"] == "http.response.body"
    )
    return status, json.loads(payload)


@pytest.mark.django_db(transaction=True)
def test_through_the_asgi_app_the_body_limit_is_the_upload_limit(alice, token_for, settings, monkeypatch):
    """A mask bigger than a JSON request may be is taken (the form is parsed as it streams in, as for
    /upload/image), and a mask over FLOWYARD_MAX_UPLOAD_BYTES answers 413 naming the field and the limit."""

    def refuse(self):
        raise AssertionError("Django's multipart parser read an upload body")

    monkeypatch.setattr(MultiPartParser, "parse", refuse)
    token = token_for(alice)
    original, painted = noise("RGB", (64, 64), seed=18), noise("RGBA", (64, 64), seed=19)
    mask = encoded(painted)
    settings.FLOWYARD_MAX_REQUEST_BYTES = len(mask) // 2
    status, answer = asgi_post("/comfy/upload/image", token, {"image": as_file("big.png", encoded(original))})
    assert status == 200, answer
    ref = json.dumps({"filename": "big.png", "type": "input"})
    status, answer = asgi_post(
        "/comfy/api/upload/mask", token, {"image": as_file("big-mask.png", mask), "original_ref": ref}
    )
    assert (status, answer) == (200, {"name": "big-mask.png", "subfolder": "", "type": "input"})
    stored = Upload.objects.get(name="big-mask.png")
    assert (stored.width, stored.height, stored.content_type) == (64, 64, "image/png")

    settings.FLOWYARD_MAX_UPLOAD_BYTES = len(mask) // 2
    status, answer = asgi_post(
        f"/comfy/t/{token}/upload/mask", token, {"image": as_file("m.png", mask), "original_ref": ref}
    )
    assert (status, answer["errors"][0]["field"]) == (413, "image"), answer
    assert f"at most {len(mask) // 2:,} bytes" in answer["error"]
    assert not Upload.objects.filter(name="m.png").exists()


def test_the_body_limit_is_upload_images():
    for prefix in ("/comfy/", "/comfy/api/", "/comfy/t/abc/", "/comfy/t/abc/api/", "/", "/api/"):
        scope = {"path": f"{prefix}upload/mask", "headers": [(b"authorization", b"Bearer x")]}
        image_scope = {**scope, "path": f"{prefix}upload/image"}
        assert body_limit(scope) == body_limit(image_scope)
        assert body_limit(scope).setting == "FLOWYARD_MAX_UPLOAD_BYTES"


@pytest.mark.django_db(transaction=True)
def test_a_runs_output_is_masked_and_the_result_loads_in_a_prompt(alice, oscar, comfy_client, wait_prompt):
    client = comfy_client(alice)
    prompt_id = client.post("/comfy/prompt", {"prompt": IMAGE_PROMPT}, format="json").json()["prompt_id"]
    assert wait_prompt(prompt_id).status == Run.Status.SUCCEEDED
    output = client.get(f"/comfy/history/{prompt_id}").json()[prompt_id]["outputs"]["3"]["images"][0]
    assert output["type"] == "output"
    original = viewed(client, **output).convert("RGB")
    painted = noise("RGBA", original.size, seed=17)
    ref = {key: output[key] for key in ("filename", "subfolder", "type")}

    outsider = post_mask(comfy_client(oscar), encoded(painted), ref)
    missing = post_mask(comfy_client(oscar), encoded(painted), {**ref, "filename": "nothing.png"})
    assert (outsider.status_code, outsider.json()) == (404, missing.json())

    answer = post_mask(client, encoded(painted), ref, "clipspace-mask-2.png", subfolder="clipspace")
    assert answer.json() == {"name": "clipspace-mask-2.png", "subfolder": "clipspace", "type": "input"}
    result = viewed(client, filename="clipspace-mask-2.png", type="input")
    assert result.convert("RGB").tobytes() == original.tobytes()
    assert result.getchannel("A").tobytes() == painted.getchannel("A").tobytes()

    # LoadImage reads it: the picture, and the mask as 1 - alpha (ComfyUI's convention).
    prompt = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "clipspace/clipspace-mask-2.png [input]"}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "picture"}},
        "3": {"class_type": "MaskToImage", "inputs": {"mask": ["1", 1]}},
        "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "mask"}},
    }
    loaded = client.post("/comfy/prompt", {"prompt": prompt}, format="json").json()
    assert loaded["node_errors"] == {}, loaded
    assert wait_prompt(loaded["prompt_id"]).status == Run.Status.SUCCEEDED
    outputs = client.get(f"/comfy/history/{loaded['prompt_id']}").json()[loaded["prompt_id"]]["outputs"]
    picture = viewed(client, **outputs["2"]["images"][0]).convert("RGB")
    assert picture.tobytes() == original.tobytes()
    mask = viewed(client, **outputs["4"]["images"][0]).convert("L")
    expected = [255 - value for value in painted.getchannel("A").tobytes()]
    assert max(abs(a - b) for a, b in zip(mask.tobytes(), expected, strict=True)) <= 1
