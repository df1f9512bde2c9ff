"""Built-in templates: the example graphs shipped in ``examples/`` (listed in ``examples/templates.json``), shown
to everyone in the template gallery and copied into a workspace as a new workflow.

They live in files, not rows: a new release brings its templates with it, and no site admin has to publish
them. A template whose node types or model files this installation lacks is still listed, with what it needs.
Files a template reads (``examples/assets/...``, LoadImage's sample photo) are uploaded into the workspace the
first time the template is used there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from django.db import transaction
from pydantic import BaseModel, ConfigDict, Field

from backend.accounts.models import User, Workspace
from backend.workflows import actions
from backend.workflows.documents import parse_document
from backend.workflows.models import Workflow
from workers.engine.graph import parse_graph
from workers.engine.registry import NodeRegistry
from workers.export.layout import layered_layout

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
MANIFEST = EXAMPLES_DIR / "templates.json"


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    file: str
    name: str
    description: str = ""
    category: str
    # "<node id>.<input>": model kind; the input takes the first file of that kind when its own is missing.
    models: dict[str, str] = Field(default_factory=dict)


class _Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    templates: list[_Entry]


@dataclass(frozen=True)
class BuiltinTemplate:
    """One shipped template: its manifest entry and its document (graph and layout, laid out)."""

    id: str
    name: str
    description: str
    category: str
    graph: dict[str, Any]
    layout: dict[str, Any]
    models: dict[str, str] = field(default_factory=dict)

    def node_types(self) -> set[str]:
        return {node["type"] for node in self.graph["nodes"].values()}

    def needs(self, registry: NodeRegistry, model_files: dict[str, list[str]]) -> list[str]:
        """What this installation lacks to run it, in words (empty: ready to run)."""
        found: list[str] = []
        unknown = sorted(t for t in self.node_types() if t not in registry)
        if unknown:
            found.append(
                f"node types this server lacks: {', '.join(unknown)} (install the models extra or a pack)"
            )
        for kind in sorted(set(self.models.values())):
            if not model_files.get(kind):
                found.append(f"a model in {kind}/ (none is installed)")
        return found


def _load(entry: _Entry) -> BuiltinTemplate:
    data = json.loads((EXAMPLES_DIR / entry.file).read_text())
    if isinstance(data, dict) and isinstance(data.get("graph"), dict):
        graph, layout = data["graph"], dict(data.get("layout") or {})
    else:  # a bare graph or a ComfyUI API prompt: titles from ``_meta``, positions from the layered layout
        graph, layout = data, {}
    places = dict(layout.get("nodes") or {})
    missing = {k: v for k, v in layered_layout(graph).items() if k not in places}
    for node_id, place in missing.items():
        meta = graph.get(node_id, {}).get("_meta") if "nodes" not in graph else None
        title = meta.get("title") if isinstance(meta, dict) else None
        places[node_id] = {**place, **({"title": title} if isinstance(title, str) and title else {})}
    layout["nodes"] = places
    return BuiltinTemplate(
        id=entry.id,
        name=entry.name,
        description=entry.description,
        category=entry.category,
        graph=parse_graph(graph).to_json(),
        layout=layout,
        models=entry.models,
    )


@cache
def builtin_templates() -> dict[str, BuiltinTemplate]:
    """Every shipped template by id, in the manifest's order (read once per process)."""
    manifest = _Manifest.model_validate_json(MANIFEST.read_text())
    return {entry.id: _load(entry) for entry in manifest.templates}


def _asset_path(value: Any) -> Path | None:
    """The shipped file a string input names (``assets/sample.png``), if it is one."""
    if not isinstance(value, str) or not value.startswith("assets/"):
        return None
    path = (EXAMPLES_DIR / value).resolve()
    return path if path.is_relative_to(EXAMPLES_DIR / "assets") and path.is_file() else None


def upload_shipped_files(user: User, workspace: Workspace, graph: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``graph`` whose inputs naming a shipped file (``assets/sample.png``) name its upload in
    ``workspace`` instead, uploading it the first time (the same content keeps its upload and name)."""
    from backend.uploads.actions import do_upload

    graph = json.loads(json.dumps(graph))
    for node in graph["nodes"].values():
        for input_name, value in node["inputs"].items():
            path = _asset_path(value)
            if path is not None:
                with path.open("rb") as f:
                    upload, _ = do_upload(user, workspace, f, path.name)
                node["inputs"][input_name] = upload.name
    return graph


@transaction.atomic
def do_create_from_builtin(
    user: User,
    workspace: Workspace,
    template: BuiltinTemplate,
    name: str | None,
    model_files: dict[str, list[str]],
) -> Workflow:
    """A new workflow in ``workspace`` holding a copy of ``template``, ready to run: its sample files uploaded
    into the workspace (once: the same content keeps its upload) and model inputs set to an installed file
    where the shipped name is not installed."""
    graph = upload_shipped_files(user, workspace, template.graph)
    for target, kind in template.models.items():
        node_id, _, input_name = target.partition(".")
        inputs = graph["nodes"].get(node_id, {}).get("inputs", {})
        available = model_files.get(kind) or []
        if available and inputs.get(input_name) not in available:
            inputs[input_name] = available[0]
    document = parse_document(graph, template.layout)
    return actions.do_create_workflow(
        user,
        workspace,
        name or template.name,
        document,
        description=template.description,
        message=f"From the built-in template “{template.name}”",
    )
