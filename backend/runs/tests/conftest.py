"""Runs test fixtures: the test node pack, a blob store and a memory cache per test, and graphs to run."""

from __future__ import annotations

import copy

import pytest

from backend.accounts.roles import Role
from backend.runs.tests import testpack
from backend.workers_registry import process
from backend.workflows.actions import do_create_workflow
from backend.workflows.documents import parse_document

IMAGE_GRAPH = {
    "nodes": {
        "1": {"type": "EmptyImage", "inputs": {"width": 8, "height": 4, "batch_size": 2, "color": 0x102030}},
        "2": {"type": "ImageInvert", "inputs": {"image": ["1", 0]}},
        "3": {"type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "inverted"}},
    }
}


def chain(length: int, show: bool = True) -> dict:
    """test.Inc nodes 1..length, each adding one to the previous, and a Show at the end."""
    nodes = {"1": {"type": "test.Inc", "inputs": {"value": 0}}}
    for index in range(2, length + 1):
        nodes[str(index)] = {"type": "test.Inc", "inputs": {"value": [str(index - 1), 0]}}
    if show:
        nodes["show"] = {"type": "test.Show", "inputs": {"value": [str(length), 0]}}
        return {"nodes": nodes}
    return {"nodes": nodes, "outputs": [str(length)]}


@pytest.fixture(autouse=True)
def runs_environment(settings, tmp_path, monkeypatch):
    settings.FLOWYARD_NODE_PACKS = ["nodepacks.core", "backend.runs.tests.testpack"]
    settings.FLOWYARD_BLOB_DIR = tmp_path / "blobs"
    settings.FLOWYARD_DISPATCHER = "local"
    settings.FLOWYARD_GPU_FALLBACK_TO_CPU = True  # the embedded default, whatever the environment says
    settings.FLOWYARD_PARALLELISM = 2
    monkeypatch.setattr(process, "_memory", None)
    testpack.flaky_state["fail"] = True
    testpack.executions.clear()
    yield


@pytest.fixture
def image_workflow(team, members):
    """A team-visible workflow in the team whose graph makes, inverts and saves two tiny images."""
    document = parse_document(copy.deepcopy(IMAGE_GRAPH), {"nodes": {}, "groups": []})
    return do_create_workflow(members[Role.OWNER], team, "Invert", document)


@pytest.fixture
def private_workflow(team, members):
    """A private workflow of eddie (an editor): runners and viewers cannot see it."""
    document = parse_document(chain(3), {"nodes": {}, "groups": []})
    return do_create_workflow(members[Role.EDITOR], team, "Eddie's", document, visibility="private")
