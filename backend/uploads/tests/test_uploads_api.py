"""The uploads API: what is stored, de-duplication and names, limits and content checks, thumbnails, downloads."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image
from rest_framework.test import APIClient

from backend.storage.references import collect_unreferenced_blobs
from backend.uploads.models import Thumbnail, Upload
from backend.uploads.tests.conftest import jpeg_bytes, png_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(client_for, alice, members):
    return client_for(alice)


def test_upload_png_records_an_image_with_its_size_and_hash(owner, team, upload, blob_store):
    data = png_bytes(20, 10)
    response = upload(owner, team, data, "photo.png")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["name"] == "photo.png"
    assert body["kind"] == "image"
    assert body["content_type"] == "image/png"
    assert (body["width"], body["height"]) == (20, 10)
    assert body["size"] == len(data)
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["workspace"] == team.pk
    assert body["created_by"]["username"] == "alice"
    assert body["content_url"] == f"/api/uploads/{body['id']}/content"
    assert body["thumbnail_url"] == f"/api/uploads/{body['id']}/thumbnail?size=128"
    assert blob_store.read(body["sha256"]) == data


def test_upload_jpeg_is_sniffed_from_the_bytes_not_the_client_content_type(owner, team, upload):
    response = upload(owner, team, jpeg_bytes(), "shot.jpg", content_type="text/html")
    assert response.status_code == 201
    assert response.json()["content_type"] == "image/jpeg"
    assert response.json()["kind"] == "image"


def test_upload_plain_text_file_is_a_file(owner, team, upload):
    response = upload(owner, team, b"a,b\n1,2\n", "table.csv", content_type="image/png", kind="file")
    assert response.status_code == 201
    body = response.json()
    assert (body["kind"], body["content_type"]) == ("file", "text/plain; charset=utf-8")
    assert body["width"] is None and body["thumbnail_url"] is None


def test_upload_binary_file_is_octet_stream(owner, team, upload):
    response = upload(owner, team, bytes(range(256)) * 4, "weights.bin")
    assert response.status_code == 201
    assert response.json()["content_type"] == "application/octet-stream"


def test_html_claiming_nothing_is_served_as_plain_text_attachment(owner, team, upload):
    created = upload(owner, team, b"<script>alert(1)</script>", "page.html", content_type="text/html").json()
    assert created["content_type"] == "text/plain; charset=utf-8"
    response = owner.get(created["content_url"])
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_same_content_twice_returns_the_existing_upload(owner, team, upload):
    first = upload(owner, team, png_bytes(), "a.png")
    again = upload(owner, team, png_bytes(), "a.png")
    other_name = upload(owner, team, png_bytes(), "b.png")
    assert first.status_code == 201
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert other_name.status_code == 200 and other_name.json()["name"] == "a.png"
    assert Upload.objects.count() == 1


def test_same_name_other_content_gets_a_numbered_name(owner, team, upload):
    names = [upload(owner, team, png_bytes(color=(i, 0, 0)), "photo.png").json()["name"] for i in range(3)]
    assert names == ["photo.png", "photo (1).png", "photo (2).png"]
    # the same second content again is found by its hash, whatever name it is sent under
    assert upload(owner, team, png_bytes(color=(1, 0, 0)), "photo.png").json()["name"] == "photo (1).png"


def test_same_name_in_another_workspace_is_independent(owner, alice, team, upload):
    personal = alice.personal_workspace
    upload(owner, team, png_bytes(color=(1, 1, 1)), "photo.png")
    response = upload(owner, personal, png_bytes(color=(2, 2, 2)), "photo.png")
    assert response.status_code == 201 and response.json()["name"] == "photo.png"


def test_overwrite_points_the_name_at_new_content_and_keeps_the_old_blob(owner, team, upload, blob_store):
    first = upload(owner, team, png_bytes(color=(1, 0, 0)), "photo.png").json()
    Thumbnail.objects.create(source_sha=first["sha256"], size=128, sha256=blob_store.put(b"thumb"))
    second = upload(owner, team, png_bytes(4, 4, color=(0, 9, 0)), "photo.png", overwrite=True)
    assert second.status_code == 201
    body = second.json()
    assert body["id"] == first["id"] and body["name"] == "photo.png"
    assert body["sha256"] != first["sha256"] and body["width"] == 4
    assert blob_store.exists(first["sha256"])  # runs or the cache may still use it; collection decides
    report = collect_unreferenced_blobs([first["sha256"], body["sha256"]], grace_seconds=0)
    assert report.referenced == 1 and blob_store.exists(body["sha256"])


def test_overwrite_needs_edit_rights(as_role, team, upload):
    upload(as_role("editor"), team, png_bytes(color=(1, 0, 0)), "photo.png")
    response = upload(as_role("runner"), team, png_bytes(color=(2, 0, 0)), "photo.png", overwrite=True)
    assert response.status_code == 403
    assert (
        Upload.objects.get(name="photo.png").sha256 == hashlib.sha256(png_bytes(color=(1, 0, 0))).hexdigest()
    )


@pytest.mark.parametrize("token", [False, True])
def test_too_large_upload_is_refused_with_413(client_for, alice, team, upload, settings, token):
    settings.FLOWYARD_MAX_UPLOAD_BYTES = 1000
    response = upload(client_for(alice, token=token), team, b"x" * 1001, "big.txt")
    assert response.status_code == 413
    assert "at most 1,000 bytes" in response.json()["detail"]
    assert response.json()["errors"][0]["field"] == "file"
    assert not Upload.objects.exists()


def test_too_large_upload_is_refused_before_the_csrf_check_reads_it(alice, team, settings):
    settings.FLOWYARD_MAX_UPLOAD_BYTES = 1000
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice)
    token = client.get("/api/auth/csrf").json()["csrf_token"]
    body = {"file": io.BytesIO(b"x" * 5000), "workspace": team.pk}
    body["file"].name = "big.bin"
    response = client.post("/api/uploads", body, format="multipart", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 413
    assert not Upload.objects.exists()


def test_upload_at_the_limit_is_accepted(owner, team, upload, settings):
    settings.FLOWYARD_MAX_UPLOAD_BYTES = 1000
    assert upload(owner, team, b"x" * 1000, "exact.txt").status_code == 201


def test_empty_file_is_refused(owner, team, upload):
    response = upload(owner, team, b"", "empty.txt")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "file"


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "photo.png"},
        {"name": "photo", "kind": "image"},
        {"name": "photo", "content_type": "image/png"},
    ],
    ids=["extension", "kind", "content-type"],
)
def test_file_claiming_to_be_an_image_that_is_not_is_refused(owner, team, upload, fields):
    name = fields.pop("name")
    response = upload(owner, team, b"GIF89a but not really an image", name, **fields)
    assert response.status_code == 400
    body = response.json()
    assert body["errors"] == [{"field": "file", "message": body["detail"]}]
    assert "not an image Flowyard can read" in body["detail"]
    assert not Upload.objects.exists()


def test_truncated_png_is_refused(owner, team, upload):
    data = png_bytes(64, 64)
    response = upload(owner, team, data[: len(data) // 2], "cut.png")
    assert response.status_code == 400


def test_svg_may_be_kept_as_a_plain_file(owner, team, upload):
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"/>'
    assert upload(owner, team, svg, "logo.svg").status_code == 400
    response = upload(owner, team, svg, "logo.svg", kind="file")
    assert response.status_code == 201 and response.json()["kind"] == "file"


def test_image_uploaded_as_file_stays_a_file(owner, team, upload):
    response = upload(owner, team, png_bytes(), "raw.png", kind="file")
    assert response.status_code == 201
    assert (response.json()["kind"], response.json()["content_type"]) == ("file", "image/png")


def test_image_over_the_pixel_limit_is_refused(owner, team, upload, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    response = upload(owner, team, png_bytes(11, 10), "wide.png")
    assert response.status_code == 400
    assert "11x10 pixels; at most 100 pixels" in response.json()["detail"]
    assert upload(owner, team, png_bytes(10, 10), "ok.png").status_code == 201


def test_decompression_bomb_is_refused(owner, team, upload):
    out = io.BytesIO()
    Image.new("1", (20000, 20000)).save(out, format="PNG")  # 400 M pixels in a few dozen kilobytes
    assert len(out.getvalue()) < 1024 * 1024
    response = upload(owner, team, out.getvalue(), "bomb.png")
    assert response.status_code == 400
    assert "too many pixels" in response.json()["detail"] or "at most" in response.json()["detail"]


def test_animated_image_counts_the_pixels_of_every_frame(owner, team, upload, monkeypatch):
    frames = [Image.new("RGB", (10, 10), (i * 40, 0, 0)) for i in range(3)]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:])
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 250)
    response = upload(owner, team, out.getvalue(), "anim.gif")
    assert response.status_code == 400
    assert "x 3 frames" in response.json()["detail"]


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("../../etc/passwd.png", "_.._etc_passwd.png"),
        ("a\\b/c.png", "a_b_c.png"),
        ("bad\tna\nme\u202e\x7f.png", "badname.png"),
        ("  spaced   out  .png", "spaced out.png"),
        ("..", "upload.png"),
        (".hidden.png", "hidden.png"),
    ],
)
def test_names_are_sanitised(owner, team, upload, given, stored):
    response = upload(owner, team, png_bytes(), "x.png", name=given)
    assert response.status_code == 201, response.json()
    assert response.json()["name"] == stored


def test_nul_in_a_name_is_refused_naming_the_field(owner, team, upload):
    response = upload(owner, team, png_bytes(), "x.png", name="a\x00b.png")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "name"


def test_long_names_are_shortened_keeping_the_extension(owner, team, upload):
    name = upload(owner, team, png_bytes(), "x.png", name="n" * 500 + ".png").json()["name"]
    assert len(name) == 200 and name.endswith("n.png")
    renamed = upload(owner, team, png_bytes(color=(0, 1, 0)), "x.png", name="n" * 500 + ".png").json()
    assert len(renamed["name"]) == 200 and renamed["name"].endswith("n (1).png")


def test_name_defaults_to_the_file_name(owner, team, upload):
    assert upload(owner, team, png_bytes(), "holiday.png").json()["name"] == "holiday.png"


def test_download_gives_the_same_bytes(owner, team, upload):
    data = jpeg_bytes(32, 24)
    created = upload(owner, team, data, "shot.jpg").json()
    response = owner.get(created["content_url"], HTTP_ACCEPT="image/avif,image/webp,*/*")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data
    assert response["Content-Type"] == "image/jpeg"
    assert response["ETag"] == f'"{created["sha256"]}"'
    assert response["Content-Disposition"].startswith("inline")
    again = owner.get(created["content_url"], HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304


def test_download_of_a_file_is_an_attachment(owner, team, upload):
    created = upload(owner, team, b"hello", "notes.txt").json()
    response = owner.get(created["content_url"])
    assert b"".join(response.streaming_content) == b"hello"
    assert response["Content-Disposition"] == 'attachment; filename="notes.txt"'


def test_thumbnail_is_a_png_of_the_image_scaled_down(owner, team, upload):
    source = Image.new("RGB", (256, 128), (255, 0, 0))
    source.paste((0, 0, 255), (128, 0, 256, 128))  # right half blue
    out = io.BytesIO()
    source.save(out, format="PNG")
    created = upload(owner, team, out.getvalue(), "halves.png").json()
    response = owner.get(f"/api/uploads/{created['id']}/thumbnail?size=128", HTTP_ACCEPT="image/*")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    thumb = Image.open(io.BytesIO(b"".join(response.streaming_content)))
    assert thumb.format == "PNG" and thumb.size == (128, 64)
    assert thumb.getpixel((10, 32)) == (255, 0, 0)
    assert thumb.getpixel((118, 32)) == (0, 0, 255)


def test_thumbnail_is_rendered_once(owner, team, upload, monkeypatch):
    created = upload(owner, team, png_bytes(300, 300), "big.png").json()
    url = f"/api/uploads/{created['id']}/thumbnail"
    assert owner.get(url).status_code == 200
    import backend.uploads.actions as actions

    monkeypatch.setattr(actions, "render_thumbnail", lambda *args: pytest.fail("rendered twice"))
    response = owner.get(url + "?size=128")
    assert response.status_code == 200
    assert Thumbnail.objects.count() == 1
    assert Image.open(io.BytesIO(b"".join(response.streaming_content))).size == (128, 128)


def test_thumbnail_keeps_transparency(owner, team, upload):
    created = upload(owner, team, png_bytes(64, 64, (0, 255, 0, 0), mode="RGBA"), "clear.png").json()
    response = owner.get(f"/api/uploads/{created['id']}/thumbnail?size=64")
    thumb = Image.open(io.BytesIO(b"".join(response.streaming_content)))
    pixel = thumb.getpixel((5, 5))
    assert thumb.mode == "RGBA" and isinstance(pixel, tuple) and pixel[3] == 0


def test_thumbnail_of_a_file_is_404_and_odd_sizes_are_400(owner, team, upload):
    file_id = upload(owner, team, b"hello", "notes.txt").json()["id"]
    assert owner.get(f"/api/uploads/{file_id}/thumbnail").status_code == 404
    image_id = upload(owner, team, png_bytes(), "p.png").json()["id"]
    response = owner.get(f"/api/uploads/{image_id}/thumbnail?size=100")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "size"


def test_list_filters_by_workspace_and_kind(owner, alice, team, upload):
    upload(owner, team, png_bytes(), "p.png")
    upload(owner, team, b"text", "t.txt")
    upload(owner, alice.personal_workspace, png_bytes(color=(3, 3, 3)), "mine.png")
    everything = owner.get("/api/uploads").json()
    assert sorted(item["name"] for item in everything) == ["mine.png", "p.png", "t.txt"]
    in_team = owner.get(f"/api/uploads?workspace={team.pk}").json()
    assert sorted(item["name"] for item in in_team) == ["p.png", "t.txt"]
    images = owner.get(f"/api/uploads?workspace={team.pk}&kind=image").json()
    assert [item["name"] for item in images] == ["p.png"]
    assert [item["name"] for item in owner.get("/api/uploads?q=MIN").json()] == ["mine.png"]


def test_delete_frees_the_name_and_leaves_the_blob_to_collection(owner, team, upload, blob_store):
    created = upload(owner, team, png_bytes(), "p.png").json()
    owner.get(f"/api/uploads/{created['id']}/thumbnail")
    assert owner.delete(f"/api/uploads/{created['id']}").status_code == 204
    assert not Upload.objects.exists() and not Thumbnail.objects.exists()
    assert blob_store.exists(created["sha256"])
    report = collect_unreferenced_blobs([created["sha256"]], grace_seconds=0)
    assert report.deleted == 1


def test_blob_shared_with_another_workspace_survives_a_delete(owner, alice, team, upload, blob_store):
    created = upload(owner, team, png_bytes(), "p.png").json()
    upload(owner, alice.personal_workspace, png_bytes(), "same.png")
    owner.delete(f"/api/uploads/{created['id']}")
    assert collect_unreferenced_blobs([created["sha256"]], grace_seconds=0).referenced == 1


# Who may do what: every endpoint for every role.

ROLES = ["owner", "admin", "editor", "runner", "viewer", "outsider"]


@pytest.fixture
def existing(client_for, alice, team, members, upload):
    """An image uploaded into the team by its owner."""
    return upload(client_for(alice), team, png_bytes(), "team.png").json()


@pytest.mark.parametrize("role", ROLES)
def test_read_endpoints_for_every_role(as_role, role, team, existing):
    client = as_role(role)
    expected = 404 if role == "outsider" else 200
    assert client.get(f"/api/uploads/{existing['id']}").status_code == expected
    assert client.get(existing["content_url"]).status_code == expected
    assert client.get(existing["thumbnail_url"]).status_code == expected
    listed = client.get(f"/api/uploads?workspace={team.pk}")
    assert listed.status_code == expected
    assert [item["id"] for item in client.get("/api/uploads").json()] == (
        [] if role == "outsider" else [existing["id"]]
    )


@pytest.mark.parametrize(
    ("role", "expected"),
    [("owner", 201), ("admin", 201), ("editor", 201), ("runner", 201), ("viewer", 403), ("outsider", 404)],
)
def test_who_may_upload(as_role, role, expected, team, upload):
    response = upload(as_role(role, token=True), team, png_bytes(color=(7, 7, 7)), "mine.png")
    assert response.status_code == expected, response.json()


@pytest.mark.parametrize(
    ("role", "expected"),
    [("owner", 204), ("admin", 204), ("editor", 204), ("runner", 403), ("viewer", 403), ("outsider", 404)],
)
def test_who_may_delete(as_role, role, expected, existing):
    assert as_role(role).delete(f"/api/uploads/{existing['id']}").status_code == expected
    assert Upload.objects.filter(pk=existing["id"]).exists() == (expected != 204)


@pytest.mark.parametrize(("role", "expected"), [("editor", 201), ("runner", 403), ("viewer", 403)])
def test_who_may_overwrite(as_role, role, expected, team, existing, upload):
    response = upload(as_role(role), team, png_bytes(color=(9, 9, 9)), "team.png", overwrite=True)
    assert response.status_code == expected


def test_missing_and_invisible_uploads_look_the_same(as_role, existing):
    outsider = as_role("outsider")
    invisible = outsider.get(f"/api/uploads/{existing['id']}")
    missing = outsider.get(f"/api/uploads/{existing['id'] + 1000}")
    assert invisible.status_code == missing.status_code == 404
    assert invisible.json() == missing.json()


def test_anonymous_calls_answer_401(anon, existing, team):
    assert anon.get("/api/uploads").status_code == 401
    assert anon.get(existing["content_url"]).status_code == 401
    file = io.BytesIO(png_bytes())
    file.name = "a.png"
    assert (
        anon.post("/api/uploads", {"file": file, "workspace": team.pk}, format="multipart").status_code == 401
    )
