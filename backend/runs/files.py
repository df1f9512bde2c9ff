"""The uploads seam: which uploaded files a run may read, and which names a graph's upload widgets may hold.

Uploads plug in here (``backend/uploads/files.py``). ``files_for_workspace`` returns the ``FileProvider`` the
engine hands to nodes: ``open(ref)`` and ``sha256(ref)`` over the workspace's uploads by name, raising
``FileNotFoundError`` for anything else, each name pinned to its content for the whole run. ``upload_options``
returns the names an upload widget of a kind (``image``, ``video``, ``audio`` or ``file``) may hold, which
validation at submit checks graphs against (None: the kind is unknown, so validation cannot tell and leaves the
value alone).
"""

from __future__ import annotations

from backend.accounts.models import Workspace
from nodepacks.sdk import FileProvider


def files_for_workspace(workspace: Workspace | int) -> FileProvider:
    """The files a run in ``workspace`` (or the workspace of that id) may read: that workspace's uploads."""
    from backend.uploads.files import WorkspaceFiles

    return WorkspaceFiles(workspace)


def upload_options(workspace: Workspace, kind: str) -> list[str] | None:
    """The upload names of ``kind`` a graph in ``workspace`` may refer to; None when that cannot be told."""
    from backend.uploads.files import upload_names

    return upload_names(workspace, kind)
