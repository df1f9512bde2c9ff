"""Apps test fixtures: a private workflow of alice (runners cannot open it) exposing three inputs and two
outputs, published as the app ``tiny``; the runs environment of backend/runs (local dispatcher, blob dir)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from backend.flowapps.actions import do_publish_app
from backend.flowapps.models import App
from backend.runs.tests.conftest import runs_environment  # noqa: F401 - the same execution settings
from backend.workflows.actions import do_create_workflow
from backend.workflows.documents import parse_document

GRAPH = {
    "nodes": {
        "1": {"type": "EmptyImage", "inputs": {"width": 8, "height": 4, "batch_size": 1, "color": 0}},
        "2": {"type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "app"}},
        "3": {"type": "PrimitiveStringMultiline", "inputs": {"value": "hello"}},
        "4": {"type": "SaveText", "inputs": {"text": ["3", 0], "filename_prefix": "app", "format": "txt"}},
    }
}
APP_SECTION: dict[str, list[dict[str, Any]]] = {
    "inputs": [
        {
            "name": "width",
            "node": "1",
            "input": "width",
            "label": "Width",
            "min": 1,
            "max": 64,
            "help": "Pixels",
        },
        {"name": "color", "node": "1", "input": "color"},
        {"name": "prompt", "node": "3", "input": "value", "label": "Prompt"},
    ],
    "outputs": [{"name": "image", "node": "2", "label": "Image"}, {"name": "text", "node": "4"}],
}


def app_document(section=None):
    layout: dict[str, object] = {
        "nodes": {},
        "groups": [],
        "app": copy.deepcopy(APP_SECTION if section is None else section),
    }
    return parse_document(copy.deepcopy(GRAPH), layout)


@pytest.fixture
def app_workflow(team, members, alice):
    return do_create_workflow(alice, team, "Tiny", app_document(), visibility="private")


@pytest.fixture
def app(app_workflow, alice):
    return do_publish_app(alice, app_workflow.versions.get(), slug="tiny", title="Tiny app")


@pytest.fixture
def public_app(app):
    App.objects.filter(pk=app.pk).update(visibility=App.Visibility.PUBLIC, public_rate_limit=2)
    app.refresh_from_db()
    return app
