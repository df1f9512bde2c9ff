"""Uploads fixtures: a blob store per test, image and file bytes, and an ``upload`` helper posting multipart."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from backend.storage.blobs import BlobStore, get_blob_store


def png_bytes(width: int = 8, height: int = 8, color=(255, 0, 0), mode: str = "RGB") -> bytes:
    """A PNG of one colour."""
    out = io.BytesIO()
    Image.new(mode, (width, height), color).save(out, format="PNG")
    return out.getvalue()


def jpeg_bytes(width: int = 16, height: int = 16, color=(0, 0, 255)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="JPEG", quality=95)
    return out.getvalue()


@pytest.fixture(autouse=True)
def blob_store(settings, tmp_path: Path) -> BlobStore:
    """Each test gets its own local blob store (the settings change rebuilds ``get_blob_store``)."""
    settings.FLOWYARD_BLOB_BACKEND = "local"
    settings.FLOWYARD_BLOB_DIR = tmp_path / "blobs"
    return get_blob_store()


@pytest.fixture
def upload():
    """``upload(client, workspace, data, filename, **fields)``: POST /api/uploads; returns the response."""

    def post(client, workspace, data: bytes, filename: str = "photo.png", content_type: str = "", **fields):
        file = SimpleUploadedFile(filename, data, content_type=content_type or "application/octet-stream")
        body = {"file": file, "workspace": workspace.pk if hasattr(workspace, "pk") else workspace}
        body.update(
            {key: str(value).lower() if isinstance(value, bool) else value for key, value in fields.items()}
        )
        return client.post("/api/uploads", body, format="multipart")

    return post


# The S3 fixtures (a real moto server process) are shared with the storage tests.
from backend.storage.tests.conftest import moto_endpoint, s3_store  # noqa: E402, F401
