"""The uploads seam: which uploaded files a run may read, and which a graph's upload widgets may name.

The uploads app plugs in here. ``files_for_workspace`` returns the ``FileProvider`` the engine hands to nodes
(``open(ref)`` and ``sha256(ref)``, raising ``FileNotFoundError`` for anything the workspace may not read), and
``upload_options`` returns the names an upload widget of a kind (``image`` or ``file``) may hold, which validation
at submit checks graphs against. Until uploads exist, a run has no files and no list of names to check against
(None means "cannot tell", so validation leaves such values alone and the node reports a missing file).
"""

from __future__ import annotations

from backend.accounts.models import Workspace
from backend.uploads.files import WorkspaceFiles, upload_names
from nodepacks.sdk import FileProvider


def files_for_workspace(workspace: Workspace) -> FileProvider:
    """The files a run in ``workspace`` may read."""
    return WorkspaceFiles(workspace)


def upload_options(workspace: Workspace, kind: str) -> list[str] | None:
    """The upload names of ``kind`` a graph in ``workspace`` may refer to; None when that cannot be told."""
    return upload_names(workspace, kind)
