"""Uploads as runs see them: the workspace's FileProvider, names for upload widgets, the runs seam, blob GC."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from PIL import Image

from backend.accounts.models import User
from backend.storage.references import blob_reference_checkers, referenced_blobs
from backend.uploads.actions import do_upload
from backend.uploads.files import WorkspaceFiles, upload_names
from backend.uploads.models import Upload
from backend.uploads.tests.conftest import png_bytes
from nodepacks.core.image_io import LoadImage
from nodepacks.sdk.testing import run_node

pytestmark = pytest.mark.django_db


def put(workspace, data: bytes, name: str, user: User | None = None, **options) -> Upload:
    upload, _ = do_upload(user, workspace, io.BytesIO(data), name, **options)
    return upload


def test_sha256_is_the_stored_hash_and_open_reads_the_bytes(team):
    data = png_bytes(5, 7)
    put(team, data, "p.png")
    files = WorkspaceFiles(team)
    assert files.sha256("p.png") == hashlib.sha256(data).hexdigest()
    with files.open("p.png") as handle:
        assert handle.read() == data


def test_sha256_reads_no_bytes(team, django_assert_num_queries, monkeypatch):
    put(team, png_bytes(), "p.png")
    files = WorkspaceFiles(team)
    monkeypatch.setattr(type(files.store), "open", lambda *a: pytest.fail("read the blob"))
    with django_assert_num_queries(1):
        files.sha256("p.png")
        files.sha256("p.png")  # pinned: no second query


@pytest.mark.parametrize("ref", ["nope.png", "", None, 42])
def test_unknown_names_raise_file_not_found_naming_the_file(team, ref):
    files = WorkspaceFiles(team)
    with pytest.raises(FileNotFoundError, match="not an uploaded file in this workspace") as raised:
        files.open(ref)
    assert repr(ref) in str(raised.value)
    with pytest.raises(FileNotFoundError):
        files.sha256(ref)


def test_a_workspace_cannot_read_another_workspaces_uploads(team, alice):
    put(alice.personal_workspace, png_bytes(), "private.png")
    with pytest.raises(FileNotFoundError, match="'private.png'"):
        WorkspaceFiles(team).open("private.png")


def test_a_provider_pins_each_name_to_the_content_it_first_saw(team):
    first = png_bytes(color=(1, 0, 0))
    put(team, first, "p.png")
    files = WorkspaceFiles(team)
    fingerprint = files.sha256("p.png")
    put(team, png_bytes(color=(2, 0, 0)), "p.png", overwrite=True)
    assert files.sha256("p.png") == fingerprint
    with files.open("p.png") as handle:
        assert handle.read() == first
    assert WorkspaceFiles(team).sha256("p.png") != fingerprint


def test_load_image_node_reads_an_upload(team):
    source = Image.new("RGBA", (3, 2), (255, 0, 0, 255))
    source.putpixel((2, 1), (0, 0, 255, 0))
    out = io.BytesIO()
    source.save(out, format="PNG")
    name = put(team, out.getvalue(), "pixels.png").name
    outcome = run_node(LoadImage, files=WorkspaceFiles(team), image=name)
    image, mask = outcome.outputs.image, outcome.outputs.mask
    assert image.shape == (1, 2, 3, 3) and mask.shape == (1, 2, 3)
    np.testing.assert_allclose(image[0, 0, 0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(image[0, 1, 2], [0.0, 0.0, 1.0])
    assert mask[0, 1, 2] == 1.0 and mask[0, 0, 0] == 0.0
    assert (
        LoadImage.fingerprint({"image": name}, WorkspaceFiles(team))
        == hashlib.sha256(out.getvalue()).hexdigest()
    )


def test_load_image_node_reports_a_name_the_workspace_lacks(team):
    from nodepacks.sdk import NodeError

    with pytest.raises(NodeError, match="'ghost.png' is not available"):
        run_node(LoadImage, files=WorkspaceFiles(team), image="ghost.png")


def test_upload_names_by_kind(team, alice):
    put(team, png_bytes(), "b.png")
    put(team, b"text", "a.txt")
    put(alice.personal_workspace, png_bytes(color=(5, 5, 5)), "elsewhere.png")
    assert upload_names(team, "image") == ["b.png"]
    assert upload_names(team, "file") == ["a.txt", "b.png"]
    assert upload_names(team, "video") == [] and upload_names(team, "audio") == []
    assert upload_names(team.pk, "mesh") is None
    assert WorkspaceFiles(team).names("image") == ["b.png"]


def test_runs_seam_delegates_to_uploads(team):
    from backend.runs.files import files_for_workspace, upload_options

    put(team, png_bytes(), "b.png")
    files = files_for_workspace(team)
    assert isinstance(files, WorkspaceFiles) and files.sha256("b.png")
    assert upload_options(team, "image") == ["b.png"]
    assert upload_options(team, "file") == ["b.png"]


def test_graph_naming_a_file_the_workspace_lacks_fails_validation_naming_node_and_input(team):
    from backend.runs.nodes import option_sources_for_workspace, registry_for_workspace
    from workers.engine.graph import parse_graph
    from workers.engine.validation import validate_graph

    put(team, png_bytes(), "here.png")
    graph = parse_graph(
        {
            "nodes": {
                "1": {"type": "LoadImage", "inputs": {"image": "missing.png"}},
                "2": {"type": "PreviewImage", "inputs": {"images": ["1", 0]}},
                "3": {"type": "LoadImage", "inputs": {"image": "here.png"}},
                "4": {"type": "PreviewImage", "inputs": {"images": ["3", 0]}},
            }
        }
    )
    errors = validate_graph(
        graph, registry_for_workspace(team), option_sources=option_sources_for_workspace(team)
    )
    assert [(error.node, error.input) for error in errors] == [("1", "image")]
    assert "missing.png" in errors[0].message


def test_upload_blobs_are_never_collected(team, blob_store):
    upload = put(team, png_bytes(), "p.png")
    assert "uploads.Upload" in blob_reference_checkers()
    other = blob_store.put(b"nobody refers to this")
    assert referenced_blobs({upload.sha256, other}) == {upload.sha256}


def test_load_image_reads_an_upload_from_the_s3_blob_store(team, s3_store):
    data = png_bytes(3, 3, (0, 128, 255))
    sha = s3_store.put(data)
    Upload.objects.create(
        workspace=team, name="s3.png", sha256=sha, size=len(data), content_type="image/png", kind="image"
    )
    files = WorkspaceFiles(team, store=s3_store)
    assert files.sha256("s3.png") == sha
    image = run_node(LoadImage, files=files, image="s3.png").outputs.image
    np.testing.assert_allclose(image[0, 1, 1], [0.0, 128 / 255, 1.0], rtol=1e-6)
