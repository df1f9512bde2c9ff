"""Uploads: named files in a workspace, whose bytes live in the blob store under their sha256.

Graph nodes refer to an upload by its ``name`` (unique per workspace), as ComfyUI's input files; the row says
which blob the name points to now. Thumbnails are derived from content, so they are keyed by the source blob.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from backend.accounts.models import Workspace
from backend.accounts.roles import Role

NAME_MAX_LENGTH = 200


class Upload(models.Model):
    """A file uploaded into a workspace, found by graphs under ``name``."""

    class Kind(models.TextChoices):
        IMAGE = "image", "Image"  # Pillow opened it: width and height are known
        FILE = "file", "File"
        VIDEO = "video", "Video"  # PyAV found a video stream (width and height known); maybe audio too
        AUDIO = "audio", "Audio"  # PyAV found an audio stream (and no video, or it was uploaded as audio)

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="uploads")
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    content_type = models.CharField(max_length=100)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="uploads"
    )
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(default=timezone.now, help_text="When the name last got new content.")

    # Not a column: the caller's role in the workspace, set by backend/accounts/access.py (only members load one).
    role: Role

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="upload_name_unique_in_workspace")
        ]
        indexes = [
            models.Index(fields=["workspace", "sha256"], name="upload_workspace_sha"),
            models.Index(fields=["workspace", "kind", "-created"], name="upload_workspace_kind_recent"),
            models.Index(fields=["sha256"], name="upload_sha"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_image(self) -> bool:
        return self.kind == self.Kind.IMAGE


class Thumbnail(models.Model):
    """A PNG thumbnail (longest side ``size``) of the image stored under ``source_sha``."""

    source_sha = models.CharField(max_length=64)
    size = models.PositiveSmallIntegerField()
    sha256 = models.CharField(max_length=64)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source_sha", "size"], name="thumbnail_unique_per_source_size")
        ]
        indexes = [models.Index(fields=["sha256"], name="thumbnail_sha")]

    def __str__(self) -> str:
        return f"{self.source_sha[:12]}@{self.size}"


def upload_blob_references(shas: set[str]) -> set[str]:
    """The blob reference checker: which of ``shas`` an upload or a thumbnail of a current upload uses."""
    found = set(Upload.objects.filter(sha256__in=shas).values_list("sha256", flat=True).distinct())
    remaining = shas - found
    if remaining:
        live_sources = Upload.objects.filter(sha256=models.OuterRef("source_sha"))
        found |= set(
            Thumbnail.objects.filter(sha256__in=remaining)
            .filter(models.Exists(live_sources))
            .values_list("sha256", flat=True)
        )
    return found
