"""The browser's provider (frontend/src/coedit/provider.ts, bundled with rolldown, run in Node with its
WebSocket) against a real web process: two writers converge with each other and with the stored draft, a
reader's edit stays local, and presence carries the server's name for the user."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from backend.accounts.actions import do_create_token
from backend.accounts.roles import Role
from backend.coedit import store
from backend.runs.tests.services import REPO, daphne_server, unavailable
from backend.workflows.actions import do_create_workflow
from backend.workflows.documents import canonical_json, parse_document

pytestmark = pytest.mark.django_db(transaction=True)

FRONTEND = REPO / "frontend"
GRAPH = {
    "nodes": {
        "1": {"type": "core.Text", "inputs": {"text": "a cat"}},
        "2": {"type": "core.Text", "inputs": {"text": "a dog"}},
    }
}
LAYOUT = {"nodes": {"1": {"x": 0, "y": 0}, "2": {"x": 200, "y": 0}}}


def bundle(out: Path) -> Path:
    node = shutil.which("node")
    rolldown = FRONTEND / "node_modules/rolldown/bin/cli.mjs"
    if node is None or not rolldown.exists():
        unavailable("node and frontend/node_modules (npm ci) are needed to run the browser's provider")
    assert node is not None
    script = out / "live-clients.mjs"
    subprocess.run(
        [node, str(rolldown), "src/coedit/__fixtures__/live-clients.ts", "--platform", "node"]
        + ["--format", "esm", "-o", str(script)],
        cwd=FRONTEND,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return script


def test_the_browser_provider_converges_through_a_real_server(team, members, tmp_path):
    script = bundle(tmp_path)
    workflow = do_create_workflow(members[Role.OWNER], team, "Shared", parse_document(GRAPH, LAYOUT))
    tokens = [do_create_token(members[role], "coedit")[1] for role in (Role.OWNER, Role.EDITOR, Role.VIEWER)]
    with daphne_server(tmp_path) as (base, _):
        done = subprocess.run(
            ["node", "--experimental-websocket", str(script), base.replace("http", "ws", 1), str(workflow.pk)]
            + tokens,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    first, second = result["documents"]
    assert canonical_json(first) == canonical_json(second)
    assert first["graph"]["nodes"]["1"]["inputs"]["text"] == "set by writer a"
    assert first["graph"]["nodes"]["2"]["inputs"]["text"] == "set by writer b"
    assert first["layout"]["nodes"]["1"]["x"] == 123
    assert result["can_write"] == [True, True, False]
    graph, layout = store.draft_document(workflow.pk)
    assert {"graph": graph, "layout": layout} == first  # == : the browser reads the stored 0.0 as 0
    owner = members[Role.OWNER]
    shown = [state for state in result["reader_sees"] if state.get("dragging") == "1"]
    assert shown and shown[0]["user"] == {"id": owner.pk, "name": owner.username, "color": "#e8590c"}
