"""ModelScope names, the shared model cache's location and the seams to modelscope's resolvers.

Both the model manager (models.py: whole ModelScope models, kept warm) and the model library (model_library.py:
weight files in ComfyUI's layout, fetched from ModelScope repos) name models and find the cache the same way;
this module is what they share, so neither imports the other for it. Plain Python: no Django, no Celery;
modelscope is imported only when something is resolved.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from nodepacks.sdk import NodeError

CACHE_ENV = "MODELSCOPE_CACHE"
DEFAULT_REVISION = "master"

_MODEL_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")
_REVISION = re.compile(r"^[A-Za-z0-9][\w.-]*$")


class ModelNotAvailable(NodeError):
    """The model (at that revision) is not in the local model cache, or could not be fetched."""


def default_cache_dir() -> Path:
    """The shared local model cache: ``MODELSCOPE_CACHE``, else modelscope's default ``~/.cache/modelscope``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "modelscope").expanduser()


def check_model_name(model_id: str, revision: str | None = None) -> None:
    """Raise ``ModelNotAvailable`` when ``model_id`` is not ``owner/name`` or ``revision`` is not a plain name."""
    # Both become directory names in the cache, so nothing that walks out of it may pass.
    if not isinstance(model_id, str) or not _MODEL_ID.match(model_id) or ".." in model_id:
        raise ModelNotAvailable(f"model id {model_id!r} is not a ModelScope model id like 'owner/name'")
    if revision is not None and (not _REVISION.match(revision) or ".." in revision):
        raise ModelNotAvailable(
            f"model {model_id!r}: revision {revision!r} is not a branch, tag or commit name"
        )


def snapshot_download(model_id: str, **kwargs: Any) -> str:
    """modelscope's whole-repo resolver (``snapshot_download``): the local folder of ``model_id``."""
    from modelscope.hub.snapshot_download import snapshot_download as download

    return str(download(model_id, **kwargs))


def model_file_download(repo_id: str, file: str, **kwargs: Any) -> str:
    """modelscope's single-file resolver (``model_file_download``): the local path of ``file`` in ``repo_id``."""
    from modelscope.hub.file_download import model_file_download as download

    return str(download(repo_id, file, **kwargs))
