"""What a run in a workspace may use: its node registry and where its selects' options come from.

The worker process's own state (memory cache tier, model manager, the packs it loads) is in
backend/workers_registry/process.py; the models and model files workers report are in
backend/workers_registry/catalog.py.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from backend.accounts.models import Workspace
from backend.runs.files import upload_options
from backend.workers_registry.catalog import known_models, model_file_names
from nodepacks.sdk.inputs import MODEL_FILE_SOURCE
from workers.engine import NodeRegistry
from workers.engine.validation import OptionSources


def registry_for_workspace(
    workspace: Workspace | int, pinned: Mapping[str, str] | None = None
) -> NodeRegistry:
    """The node types a run in ``workspace`` (or the workspace of that id) may use: the packs of ``FLOWYARD_NODE_PACKS`` plus its installed
    pack versions, each isolated in its own environment (``pinned``: a workflow version's ``packs``, whose
    versions win while still available; see backend/registry/runtime.py)."""
    from backend.registry.runtime import load_packs

    return load_packs(workspace, pinned).registry


def option_sources_for_workspace(workspace: Workspace) -> OptionSources:
    """Validation's answer to "which values may a select with this ``source`` hold" in ``workspace``."""

    def options(source: str) -> Collection[str] | None:
        if source.startswith("uploads."):
            return upload_options(workspace, source.removeprefix("uploads."))
        if source.startswith("models."):
            return model_options(source.removeprefix("models."))
        if source.startswith(MODEL_FILE_SOURCE):
            return model_file_options(source.removeprefix(MODEL_FILE_SOURCE))
        return None

    return options


def model_options(task: str) -> list[str] | None:
    """The model ids a ``models.<task>`` select may hold: what any live worker's (or this process's) local model
    cache holds for ``task``; None when nothing reports models, so validation cannot tell (the run then says
    which model is missing)."""
    models = known_models()
    if not models:
        return None
    return sorted({model["model_id"] for model in models if not task or model.get("task") == task})


def model_file_options(kind: str) -> list[str] | None:
    """The names a ``modelfiles.<kind>`` select may hold: what any live worker's (or, embedded, this process's)
    model library lists in that folder; None when nothing reports a library, so validation cannot tell."""
    return model_file_names(kind)
