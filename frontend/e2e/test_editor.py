"""The editor's own behaviour in Chromium against the real server: read-only views, placement, menus, notes."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import FloatRect, Page, Position, expect

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


def boxes_overlap(a: FloatRect, b: FloatRect) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


def open_at_1280(person) -> tuple[Page, dict]:
    """An owner's image workflow open in the editor in a 1280x800 window."""
    me = person()
    me.signup(unique("maker"))
    user = me.api("GET", "/api/auth/me")
    wf = me.api(
        "POST",
        "/api/workflows",
        {"workspace": user["personal_workspace"]["id"], "name": "A fairly long workflow name", **IMAGE_DOC},
    )
    page = me.page
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"/workflows/{wf['id']}")
    expect(page.locator(".react-flow__node")).to_have_count(3)
    return page, wf


def test_at_1280_the_header_is_one_line_and_the_runs_panel_sits_beside_the_canvas(person):
    page, _ = open_at_1280(person)
    header = page.locator(".fy-editor-header")
    tops = header.evaluate("(h) => [...h.children].map((c) => Math.round(c.getBoundingClientRect().top))")
    assert tops and max(tops) - min(tops) < 20, tops
    header_box = header.bounding_box()
    assert header_box and header_box["height"] < 50
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280

    # Until this browser chooses, the runs panel starts collapsed to a narrow strip beside the canvas.
    panel = page.get_by_role("complementary", name="Runs")
    expect(page.get_by_role("button", name="◂ Runs")).to_be_visible()
    collapsed = panel.bounding_box()
    assert collapsed and collapsed["width"] < 60
    wide = page.locator(".react-flow__pane").bounding_box()
    assert wide

    # Open, it is a column right of the canvas: no node, selected or not, lies under it.
    page.get_by_role("button", name="◂ Runs").click()
    expect(page.get_by_role("button", name="Runs ▸")).to_be_visible()
    page.get_by_role("button", name="Fit view", exact=True).click()
    page.get_by_test_id("node-3").locator(".fy-node-title").click()
    panel_box = panel.bounding_box()
    assert panel_box and panel_box["width"] > 200
    for i in range(3):
        box = page.locator(".react-flow__node").nth(i).bounding_box()
        assert box and not boxes_overlap(box, panel_box)
    pane = page.locator(".react-flow__pane").bounding_box()
    assert pane and pane["x"] + pane["width"] <= panel_box["x"] + 1
    assert wide["width"] > pane["width"] + 200

    # The choice survives a reload, open or collapsed.
    page.reload()
    expect(page.get_by_role("button", name="Runs ▸")).to_be_visible()
    page.get_by_role("button", name="Runs ▸").click()
    page.reload()
    expect(page.get_by_role("button", name="◂ Runs")).to_be_visible()


def test_the_link_drop_search_stays_on_screen_and_new_nodes_find_free_space(person):
    page, _ = open_at_1280(person)
    # Drop a link from the Preview's output near the bottom-right corner of the canvas.
    handle = page.get_by_test_id("node-3").locator(".react-flow__handle.source").first.bounding_box()
    pane = page.locator(".react-flow__pane").bounding_box()
    assert handle and pane
    page.mouse.move(handle["x"] + 3, handle["y"] + 3)
    page.mouse.down()
    drop = (pane["x"] + pane["width"] - 15, pane["y"] + pane["height"] - 15)
    page.mouse.move(drop[0] - 40, drop[1] - 40, steps=6)
    page.mouse.move(*drop, steps=4)
    page.mouse.up()
    popup = page.locator(".fy-search-popup")
    expect(popup).to_be_visible()
    box = popup.bounding_box()
    assert box
    assert box["x"] >= pane["x"] and box["x"] + box["width"] <= pane["x"] + pane["width"]
    assert box["y"] >= pane["y"] and box["y"] + box["height"] <= pane["y"] + pane["height"]
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    assert page.evaluate("window.scrollX") == 0
    page.keyboard.press("Escape")
    expect(popup).to_have_count(0)

    # Nodes added from the palette land in free space, never on one another.
    page.get_by_label("Filter nodes").fill("empty image")
    for _ in range(3):
        page.locator(".fy-palette-results").get_by_role("button", name="Empty Image").click()
    nodes = page.locator(".react-flow__node")
    expect(nodes).to_have_count(6)
    page.get_by_role("button", name="Fit view", exact=True).click()
    page.wait_for_timeout(400)
    boxes = [nodes.nth(i).bounding_box() for i in range(6)]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert a and b and not boxes_overlap(a, b), (a, b)


def empty_point(page: Page, skip: int = 0) -> Position:
    """A point of the pane (relative to it) with nothing drawn over it: the `skip`-th found on a coarse grid."""
    point = page.evaluate(
        """(skip) => {
             const pane = document.querySelector('.react-flow__pane').getBoundingClientRect();
             for (let y = 60; y < pane.height - 120; y += 50)
               for (let x = 60; x < pane.width - 260; x += 50) {
                 const hit = document.elementFromPoint(pane.left + x, pane.top + y);
                 if (hit && hit.classList.contains('react-flow__pane') && skip-- <= 0) return { x, y };
               }
             return null;
           }""",
        skip,
    )
    assert point, "no empty spot on the canvas"
    return point


def test_the_canvas_menu_adds_pastes_groups_and_arranges(person):
    page, _ = open_at_1280(person)
    nodes = page.locator(".react-flow__node")
    pane = page.locator(".react-flow__pane")
    menu = page.get_by_role("menu", name="Canvas menu")

    # Add node… opens the search where the menu was.
    pane.click(button="right", position=empty_point(page))
    expect(menu).to_be_visible()
    menu.get_by_role("menuitem", name="Add node").click()
    page.get_by_label("Search nodes").fill("blur image")
    page.get_by_label("Search nodes").press("Enter")
    expect(nodes).to_have_count(4)

    # Paste here: a copy of the selected node, at the menu's point.
    page.get_by_test_id("node-1").locator(".fy-node-title").click()
    page.keyboard.press("Control+c")
    pane.click(button="right", position=empty_point(page, 3))
    menu.get_by_role("menuitem", name="Paste here").click()
    expect(nodes).to_have_count(5)

    # Group: with nothing selected, an empty group frame where the menu was.
    pane.click(position=empty_point(page))
    pane.click(button="right", position=empty_point(page, 6))
    expect(menu.get_by_role("menuitem", name="Add a group here")).to_be_visible()
    menu.get_by_role("menuitem", name="Add a group here").click()
    expect(page.locator("[data-group]")).to_have_count(1)

    # Arrange: auto layout moves the nodes (the graph becomes dirty) and no two overlap.
    pane.click(button="right", position=empty_point(page))
    menu.get_by_role("menuitem", name="Arrange").click()
    expect(page.locator(".fy-dirty")).to_be_visible()
    page.wait_for_timeout(600)
    graph_nodes = page.locator(".react-flow__node-schema")  # not the group's frame, which holds nodes
    expect(graph_nodes).to_have_count(5)
    real = [b for b in (graph_nodes.nth(i).bounding_box() for i in range(5)) if b]
    for i, a in enumerate(real):
        for b in real[i + 1 :]:
            assert not boxes_overlap(a, b), (a, b)


def test_history_names_nodes_by_title_and_recent_runs_name_workflow_and_version(person):
    me = person()
    me.signup(unique("named"))
    user = me.api("GET", "/api/auth/me")
    wf = me.api(
        "POST",
        "/api/workflows",
        {"workspace": user["personal_workspace"]["id"], "name": "Titled", **IMAGE_DOC},
    )
    changed = json.loads(json.dumps(IMAGE_DOC))
    changed["graph"]["nodes"]["2"]["inputs"]["blur_radius"] = 7
    changed["layout"]["nodes"]["2"]["title"] = "Soften"
    changed["graph"]["nodes"]["4"] = {"type": "PreviewImage", "inputs": {"images": ["1", 0]}}
    changed["layout"]["nodes"]["4"] = {"x": 640, "y": 300}
    me.api("POST", f"/api/workflows/{wf['id']}/versions", {**changed, "message": "softer"})

    page = me.page
    page.goto(f"/workflows/{wf['id']}")
    page.get_by_role("button", name="History").click()
    v2 = page.get_by_role("complementary", name="Version history").locator("li[data-version='2']")
    v2.get_by_role("button", name="Changes").click()
    # A renamed node by its title, others by their type's name, with the id where two share it.
    expect(v2).to_contain_text("Added 1 node: Preview Image #4")
    expect(v2).to_contain_text("Changed inputs of 1 node: Soften (blur_radius)")

    # A run of version 2, then Home's recent runs say which workflow and version ran.
    page.locator(".react-flow__pane").click(position={"x": 300, "y": 500})
    page.keyboard.press("Control+Enter")
    expect(page.locator(".fy-toast")).to_contain_text("Run queued")
    page.goto("/")
    expect(page.locator(".fy-run-list")).to_contain_text("Titled v2")


# A ComfyUI UI-format workflow: EmptyImage -> Reroute -> ImageBlur -> PreviewImage, a Note and a MarkdownNote.
COMFY_FILE = {
    "last_node_id": 8,
    "last_link_id": 3,
    "nodes": [
        {
            "id": 1,
            "type": "EmptyImage",
            "pos": [0, 0],
            "size": [240, 130],
            "mode": 0,
            "inputs": [],
            "outputs": [{"name": "IMAGE", "type": "IMAGE", "links": [1]}],
            "widgets_values": [64, 48, 1, 0],
        },
        {
            "id": 5,
            "type": "Reroute",
            "pos": [300, 40],
            "size": [75, 26],
            "mode": 0,
            "inputs": [{"name": "", "type": "*", "link": 1}],
            "outputs": [{"name": "", "type": "IMAGE", "links": [2]}],
        },
        {
            "id": 2,
            "type": "ImageBlur",
            "pos": [420, 0],
            "size": [240, 100],
            "mode": 0,
            "inputs": [{"name": "image", "type": "IMAGE", "link": 2}],
            "outputs": [{"name": "IMAGE", "type": "IMAGE", "links": [3]}],
            "widgets_values": [2, 1.0],
        },
        {
            "id": 3,
            "type": "PreviewImage",
            "pos": [720, 0],
            "size": [240, 100],
            "mode": 0,
            "inputs": [{"name": "images", "type": "IMAGE", "link": 3}],
            "outputs": [],
        },
        {
            "id": 7,
            "type": "Note",
            "pos": [0, 300],
            "size": [300, 100],
            "widgets_values": ["Plain <b>words</b>"],
        },
        {
            "id": 8,
            "type": "MarkdownNote",
            "pos": [400, 300],
            "size": [300, 160],
            "widgets_values": ["# Blur demo\n\nRun it, then **look**. <script>alert(1)</script>"],
        },
    ],
    "links": [[1, 1, 0, 5, 0, "IMAGE"], [2, 5, 0, 2, 0, "IMAGE"], [3, 2, 0, 3, 0, "IMAGE"]],
    "groups": [],
    "version": 0.4,
}


def import_comfy(page: Page, data: dict, name: str) -> None:
    payload = json.dumps(data).encode()
    page.get_by_label("ComfyUI workflow file").set_input_files(
        {"name": name, "mimeType": "application/json", "buffer": payload}
    )
    page.wait_for_url("**/workflows/new")


def assert_notes_and_reroute(page: Page, heading: str = "h1", title: str = "Blur demo") -> None:
    notes = page.locator("[data-note]")
    expect(notes).to_have_count(2)
    plain = page.locator("[data-note]", has_text="Plain")
    expect(plain.locator(".fy-note-body")).to_have_text("Plain <b>words</b>")  # plain text, not HTML
    markdown = page.locator("[data-note]", has_text=title)
    expect(markdown.locator(heading)).to_have_text(title)
    expect(markdown.locator("script, img")).to_have_count(0)
    expect(page.locator("[data-reroute]")).to_have_count(1)
    # The link into the blur is drawn from the reroute's dot; the graph itself keeps the direct link.
    expect(page.locator(".react-flow__edge")).to_have_count(3)
    expect(page.locator(".react-flow__node .fy-node")).to_have_count(3)


def test_notes_and_reroutes_survive_a_comfyui_round_trip(person, tmp_path):
    me = person()
    me.signup(unique("notes"))
    page = me.page
    page.on("dialog", lambda d: d.accept())
    page.goto("/")
    import_comfy(page, COMFY_FILE, "with-notes.json")
    assert_notes_and_reroute(page)
    expect(page.locator("[data-note] strong")).to_have_text("look")
    # Kept, so the import does not report them as dropped.
    expect(page.get_by_role("status", name="Import notes")).not_to_contain_text("dropped")

    # A note is edited in place (Markdown, sanitised).
    page.locator("[data-note]", has_text="Blur demo").locator(".fy-note-body").dblclick()
    page.get_by_label("Note text").fill("## Changed\n\n<img src=x onerror=alert(1)> *fine*")
    page.locator(".react-flow__pane").click(position={"x": 700, "y": 600})
    changed = page.locator("[data-note]", has_text="Changed")
    expect(changed.locator("h2")).to_have_text("Changed")
    expect(changed.locator("img")).to_have_count(0)
    expect(changed.locator("em")).to_have_text("fine")

    # Export as a ComfyUI workflow: Note, MarkdownNote and Reroute nodes, the link through the reroute.
    page.get_by_role("button", name="File").click()
    with page.expect_download() as download:
        page.get_by_role("button", name="Export as ComfyUI workflow").click()
    path = tmp_path / "exported.json"
    download.value.save_as(path)
    exported = json.loads(path.read_text())
    types = sorted(n["type"] for n in exported["nodes"])
    assert types == sorted(["EmptyImage", "ImageBlur", "PreviewImage", "Reroute", "Note", "MarkdownNote"])
    texts = {n["type"]: n["widgets_values"][0] for n in exported["nodes"] if "Note" in n["type"]}
    assert texts["Note"] == "Plain <b>words</b>"
    assert texts["MarkdownNote"].startswith("## Changed")
    reroute = next(n for n in exported["nodes"] if n["type"] == "Reroute")
    assert any(link[3] == reroute["id"] and link[1] == 1 for link in exported["links"])
    assert any(link[1] == reroute["id"] and link[3] == 2 for link in exported["links"])

    # Imported again (as ComfyUI would hand it back), everything is there; saved and reloaded too.
    page.goto("/")
    import_comfy(page, exported, "exported.json")
    assert_notes_and_reroute(page, "h2", "Changed")
    page.locator(".react-flow__pane").click(position={"x": 700, "y": 600})
    page.keyboard.press("Control+s")
    page.get_by_role("form", name="Save workflow").get_by_role("button", name="Save").click()
    page.wait_for_url(lambda url: "/workflows/new" not in url)
    page.reload()
    assert_notes_and_reroute(page, "h2", "Changed")


@pytest.mark.parametrize("width,height", [(1280, 800), (1920, 1080)])
def test_home_and_editor_fit_the_window_without_sideways_scroll(person, width, height):
    me = person()
    me.signup(unique("sizes"))
    user = me.api("GET", "/api/auth/me")
    wf = me.api(
        "POST",
        "/api/workflows",
        {
            "workspace": user["personal_workspace"]["id"],
            "name": "A workflow with a rather long name",
            **IMAGE_DOC,
        },
    )
    page = me.page
    page.set_viewport_size({"width": width, "height": height})
    page.goto("/")
    expect(page.get_by_role("link", name="A workflow with a rather long name")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.goto(f"/workflows/{wf['id']}")
    expect(page.locator(".react-flow__node")).to_have_count(3)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    header = page.locator(".fy-editor-header")
    tops = header.evaluate("(h) => [...h.children].map((c) => Math.round(c.getBoundingClientRect().top))")
    assert max(tops) - min(tops) < 20, tops
    # Every header control is inside the window.
    rights = header.evaluate("(h) => [...h.children].map((c) => c.getBoundingClientRect().right)")
    assert max(rights) <= width
