"""The editor's own behaviour in Chromium against the real server: read-only views, placement, menus, notes."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect

from conftest import IMAGE_DOC, unique

# One EmptyImage node as the clipboard carries it (editor/clipboard.ts).
PASTED_NODES = json.dumps(
    {
        "kind": "flowyard/nodes@1",
        "nodes": [
            {
                "id": "1",
                "type": "EmptyImage",
                "position": {"x": 0, "y": 400},
                "values": {"width": 64, "height": 64, "batch_size": 1, "color": 0},
                "sockets": [],
                "mode": "normal",
            }
        ],
        "edges": [],
    }
)


def dispatch_paste(page: Page, text: str) -> None:
    """A paste event carrying `text`, as the browser fires one for Ctrl+V."""
    page.evaluate(
        """(text) => {
             const data = new DataTransfer();
             data.setData('text/plain', text);
             document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true }));
           }""",
        text,
    )


def test_a_viewer_gets_a_read_only_editor_that_changes_and_sends_nothing(person):
    owner, viewer = person(), person()
    owner.signup(unique("owner"))
    viewer_name = unique("viewer")
    viewer.signup(viewer_name)
    team = owner.api("POST", "/api/teams", {"name": unique("Studio ")})
    owner.api("POST", f"/api/teams/{team['id']}/members", {"username": viewer_name, "role": "viewer"})
    wf = owner.api("POST", "/api/workflows", {"workspace": team["id"], "name": "Look only", **IMAGE_DOC})

    page = viewer.page
    writes: list[str] = []
    page.on(
        "request",
        lambda r: writes.append(f"{r.method} {r.url}") if r.method != "GET" and "/api/" in r.url else None,
    )
    page.goto(f"/workflows/{wf['id']}")
    nodes = page.locator(".react-flow__node")
    expect(nodes).to_have_count(3)
    expect(page.locator(".react-flow__edge")).to_have_count(2)

    # Said plainly: view only, the role that edits, and a Fork button; no Save, no Import, no palette.
    badge = page.get_by_test_id("view-only")
    expect(badge).to_contain_text("view only")
    expect(badge).to_contain_text("editor role")
    expect(page.get_by_role("button", name="Fork")).to_be_visible()
    expect(page.get_by_role("button", name="Save")).to_have_count(0)
    expect(page.get_by_role("button", name="Import", exact=True)).to_have_count(0)
    expect(page.locator(".fy-palette")).to_have_count(0)

    # Widgets are disabled; typing into one changes nothing.
    empty = page.get_by_test_id("node-1")
    width = empty.locator("[data-input=width] input[type=number]")
    expect(width).to_be_disabled()
    expect(width).to_have_value("64")
    expect(empty.locator(".fy-convert")).to_have_count(0)

    # Run is disabled and says why (a viewer may not run).
    run = page.get_by_role("button", name="▶ Run")
    expect(run).to_be_disabled()
    assert "runner role" in (run.get_attribute("title") or "")

    # Drag a node: it keeps its place in the graph (the drag may pan the view, which is no edit).
    flow_position = "(el) => el.closest('.react-flow__node').style.transform"
    before = empty.evaluate(flow_position)
    box = empty.bounding_box()
    assert box
    page.mouse.move(box["x"] + 40, box["y"] + 10)
    page.mouse.down()
    page.mouse.move(box["x"] + 240, box["y"] + 210, steps=8)
    page.mouse.up()
    assert empty.evaluate(flow_position) == before

    # Click a node and press Delete, Ctrl+D, Ctrl+Enter, Ctrl+S: nothing changes, nothing is sent.
    empty.locator(".fy-node-title").click()
    for key in ("Delete", "Backspace", "Control+d", "Control+Enter", "Control+s", "Control+z"):
        page.keyboard.press(key)
    expect(nodes).to_have_count(3)
    expect(page.get_by_role("form", name="Save workflow")).to_have_count(0)

    # No add-node search on double-click, no node menu on right-click, no link drawn to empty space.
    page.locator(".react-flow__pane").dblclick(position={"x": 600, "y": 500})
    expect(page.locator(".fy-search-popup")).to_have_count(0)
    empty.click(button="right")
    expect(page.locator(".fy-menu")).to_have_count(0)
    handle = empty.locator(".react-flow__handle.source").first.bounding_box()
    assert handle
    page.mouse.move(handle["x"] + 3, handle["y"] + 3)
    page.mouse.down()
    page.mouse.move(handle["x"] + 200, handle["y"] + 300, steps=8)
    page.mouse.up()
    expect(page.locator(".fy-search-popup")).to_have_count(0)
    expect(page.locator(".react-flow__edge")).to_have_count(2)

    # A paste of Flowyard nodes adds nothing.
    dispatch_paste(page, PASTED_NODES)
    expect(nodes).to_have_count(3)
    expect(page.locator(".fy-dirty")).to_have_count(0)
    page.wait_for_timeout(300)  # let any request the gestures might have started reach the listener
    assert writes == []

    # The workflow on the server is unchanged.
    stored = owner.api("GET", f"/api/workflows/{wf['id']}")
    assert stored["latest_version"] == 1

    # Fork: an editable copy in the viewer's own workspace.
    page.get_by_role("button", name="Fork").click()
    page.get_by_role("form", name="Fork workflow").get_by_role("button", name="Fork").click()
    page.wait_for_url(lambda url: f"/workflows/{wf['id']}" not in url)
    expect(nodes).to_have_count(3)
    expect(page.locator(".fy-palette")).to_be_visible()
    expect(page.get_by_role("button", name="Save")).to_be_visible()
    expect(page.get_by_test_id("node-1").locator("[data-input=width] input[type=number]")).to_be_enabled()


def test_a_public_link_is_read_only_and_a_signed_in_visitor_can_fork_it(person):
    owner, visitor = person(), person()
    owner.signup(unique("owner"))
    visitor.signup(unique("visitor"))
    me = owner.api("GET", "/api/auth/me")
    wf = owner.api(
        "POST", "/api/workflows", {"workspace": me["personal_workspace"]["id"], "name": "Shared", **IMAGE_DOC}
    )
    share = owner.api("POST", f"/api/workflows/{wf['id']}/share", {"public": True})
    token = share["public_url"].rstrip("/").split("/")[-1]

    page = visitor.page
    page.goto(f"/p/{token}")
    expect(page.locator(".react-flow__node")).to_have_count(3)
    expect(page.get_by_test_id("node-1").locator("[data-input=width] input[type=number]")).to_be_disabled()
    page.locator(".react-flow__pane").dblclick(position={"x": 600, "y": 500})
    expect(page.locator(".fy-search-popup")).to_have_count(0)
    page.get_by_role("button", name="Fork").click()
    page.wait_for_url("**/workflows/*")
    expect(page.locator(".react-flow__node")).to_have_count(3)
    expect(page.get_by_role("button", name="Save")).to_be_visible()
