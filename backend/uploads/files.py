"""Uploads as a run sees them: a ``FileProvider`` over the names of one workspace, and the names for selects."""

from __future__ import annotations

import threading
from typing import BinaryIO

from backend.accounts.models import Workspace
from backend.storage.blobs import BlobNotFound, BlobStore, get_blob_store
from backend.uploads.models import Upload

NOT_UPLOADED = "not an uploaded file in this workspace"


class WorkspaceFiles:
    """The ``FileProvider`` of a workspace's uploads, by name (``nodepacks.sdk.context.FileProvider``).

    Each name is looked up once per provider and then pinned to its content: a run (one provider) reads the
    same bytes that its cache fingerprint (``sha256``) described, even if the name is overwritten meanwhile.
    """

    def __init__(self, workspace: Workspace | int, store: BlobStore | None = None) -> None:
        self.workspace_id = workspace.pk if isinstance(workspace, Workspace) else int(workspace)
        self._store = store
        self._pinned: dict[str, str] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"WorkspaceFiles(workspace={self.workspace_id})"

    @property
    def store(self) -> BlobStore:
        return self._store or get_blob_store()

    def sha256(self, ref: str) -> str:
        """Return the stored content hash of upload ``ref`` (no bytes are read); ``FileNotFoundError`` if none."""
        with self._lock:
            pinned = self._pinned.get(ref) if isinstance(ref, str) else None
        if pinned is not None:
            return pinned
        sha = None
        if isinstance(ref, str) and ref:
            rows = Upload.objects.filter(workspace_id=self.workspace_id, name=ref).values_list(
                "sha256", flat=True
            )
            sha = rows.first()
        if sha is None:
            raise FileNotFoundError(f"{ref!r} is {NOT_UPLOADED}")
        with self._lock:
            return self._pinned.setdefault(ref, sha)

    def open(self, ref: str) -> BinaryIO:
        """Return the bytes of upload ``ref`` as a readable binary file; ``FileNotFoundError`` if there is none."""
        sha = self.sha256(ref)
        try:
            return self.store.open(sha)
        except BlobNotFound:
            raise FileNotFoundError(f"the content of upload {ref!r} is missing from the blob store") from None

    def names(self, kind: str | None = None) -> list[str]:
        """The upload names of this workspace (of ``kind``: see ``upload_names``), sorted."""
        return upload_names(self.workspace_id, kind or Upload.Kind.FILE) or []


def upload_names(workspace: Workspace | int, kind: str) -> list[str] | None:
    """The names an upload widget accepting ``kind`` may hold in ``workspace``, sorted.

    ``image``, ``video``, ``audio``: uploads of that kind; ``file``: every upload (an image is a file too);
    other kinds: None ("cannot tell").
    """
    workspace_id = workspace.pk if isinstance(workspace, Workspace) else int(workspace)
    uploads = Upload.objects.filter(workspace_id=workspace_id)
    if kind in (Upload.Kind.IMAGE, Upload.Kind.VIDEO, Upload.Kind.AUDIO):
        uploads = uploads.filter(kind=kind)
    elif kind != Upload.Kind.FILE:
        return None
    return list(uploads.order_by("name").values_list("name", flat=True))
