"""Every page at the two window sizes people use most (1280x800 and 1920x1080): the top bar on one line and inside
the window, no sideways scroll, no page error, the page's own content drawn.

One person with a workflow, a finished run, a published app, a team and a paused approval visits each page; what
a page shows depends on that data (a run detail, an app form), so each is reached with real objects.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from conftest import IMAGE_DOC, unique

SIZES = [(1280, 800), (1920, 1080)]

# A workflow exposing EmptyImage's width as an app input and SaveImage as its output (docs/apps.md).
APP_DOC = {
    "graph": {
        "nodes": {
            "1": {"type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 255}},
            "2": {"type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "square"}},
        }
    },
    "layout": {
        "nodes": {"1": {"x": 0, "y": 0}, "2": {"x": 340, "y": 0}},
        "app": {
            "inputs": [
                {"name": "width", "node": "1", "input": "width", "min": 8, "max": 512, "label": "Width"}
            ],
            "outputs": [{"name": "image", "node": "2"}],
        },
    },
}


def wait_finished(me, run_id: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if me.api("GET", f"/api/runs/{run_id}")["status"] in ("succeeded", "failed", "cancelled"):
            return
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not finish within 60 s")


@pytest.mark.parametrize(("width", "height"), SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_every_page_fits_the_window(person, width: int, height: int) -> None:
    me = person()
    me.signup(unique("sizes"))
    user = me.api("GET", "/api/auth/me")
    workspace = user["personal_workspace"]["id"]
    wf = me.api("POST", "/api/workflows", {"workspace": workspace, "name": "Blurred square", **IMAGE_DOC})
    run = me.api("POST", "/api/runs", {"workflow": wf["id"]})
    wait_finished(me, run["id"])
    app_wf = me.api("POST", "/api/workflows", {"workspace": workspace, "name": "Square", **APP_DOC})
    slug = unique("square-")
    me.api("POST", "/api/apps", {"workflow": app_wf["id"], "slug": slug, "title": "Square maker"})
    team = me.api("POST", "/api/teams", {"name": unique("Team ")})

    # Each page with something only that page draws once it has loaded.
    pages = [
        ("/", lambda p: p.get_by_role("link", name="Blurred square").first),
        (f"/workflows/{wf['id']}", lambda p: p.locator(".react-flow__node").first),
        ("/runs", lambda p: p.get_by_role("link", name="Blurred square v1")),
        (f"/runs/{run['id']}", lambda p: p.get_by_role("heading", name="Timeline")),
        ("/approvals", lambda p: p.get_by_role("heading", name=re.compile("Approvals"))),
        (f"/teams/{team['id']}", lambda p: p.get_by_role("heading", name=team["name"])),
        ("/settings/tokens", lambda p: p.get_by_role("heading", name="API tokens")),
        ("/packs", lambda p: p.get_by_role("heading", name=re.compile("pack", re.I)).first),
        ("/packs/upload", lambda p: p.get_by_role("heading", name="Publish a node pack")),
        ("/workers", lambda p: p.get_by_role("heading", name="Workers", exact=True)),
        ("/models", lambda p: p.get_by_role("heading", name="Models", exact=True)),
        ("/apps", lambda p: p.get_by_role("link", name="Square maker")),
        (f"/apps/{slug}", lambda p: p.get_by_role("heading", name="Square maker")),
    ]
    page = me.page
    page.set_viewport_size({"width": width, "height": height})
    for path, drawn in pages:
        page.goto(path)
        expect(drawn(page)).to_be_visible()
        expect(page.get_by_text(re.compile(r"^Loading"))).to_have_count(0)
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width, f"{path} scrolls sideways at {width}x{height}: {scroll} px wide"
        bar = page.locator(".fy-topbar")
        expect(bar).to_be_visible()
        boxes = bar.evaluate(
            "(bar) => [...bar.children].filter((c) => c.getClientRects().length)"
            ".map((c) => { const r = c.getBoundingClientRect(); return [Math.round(r.top), r.right]; })"
        )
        tops = [top for top, _ in boxes]
        assert max(tops) - min(tops) < 20, f"{path}: the top bar wraps at {width}x{height}: {boxes}"
        assert max(right for _, right in boxes) <= width, f"{path}: the top bar overflows at {width}: {boxes}"
    assert not [e for e in me.errors if "pageerror" in e], me.errors
