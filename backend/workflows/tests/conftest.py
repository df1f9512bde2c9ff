from __future__ import annotations

from typing import Any

import pytest

from backend.accounts.roles import Role
from backend.workflows.actions import do_create_workflow
from backend.workflows.documents import parse_document

GRAPH: dict[str, Any] = {
    "nodes": {
        "1": {"type": "EmptyImage", "inputs": {"width": 64, "height": 64}},
        "2": {"type": "ImageInvert", "inputs": {"image": ["1", 0]}},
    }
}
LAYOUT: dict[str, Any] = {
    "nodes": {"1": {"x": 0, "y": 0}, "2": {"x": 240, "y": 0, "title": "Invert"}},
    "groups": [],
}


@pytest.fixture
def workflow(team, members):
    """A team-visible workflow in the team, created by alice (the owner)."""
    return do_create_workflow(
        members[Role.OWNER], team, "Invert", parse_document(GRAPH, LAYOUT), message="first"
    )


@pytest.fixture
def private_workflow(team, members):
    """A private workflow in the team, created by eddie (an editor)."""
    return do_create_workflow(
        members[Role.EDITOR], team, "Eddie's sketch", parse_document(GRAPH, LAYOUT), visibility="private"
    )
