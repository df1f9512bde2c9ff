"""Live co-editing in the editor: two and three people in one workflow, each in a browser context of their own.
An edit in one tab shows in the others, concurrent edits converge (the serialised graphs of every tab are equal),
presence shows and clears, a viewer's edits are refused by the server, a reload and a restart of the server
mid-session lose nothing, a run one person starts shows on the others' canvas, and a restore resets every tab.
(``?coedit=1``, the flag of the preview, is still accepted and changes nothing.)"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect

from conftest import IMAGE_DOC, Session, unique


def widget(page, node: str, name: str):
    return page.get_by_test_id(f"node-{node}").locator(f"[data-input={name}] input[type=number]")


def set_widget(page, node: str, name: str, value: str) -> None:
    field = widget(page, node, name)
    field.fill(value)
    field.press("Tab")


def test_two_editors_and_a_viewer_edit_one_workflow_live(person):
    owner, editor, viewer = person(), person(), person()
    owner_name = unique("owner")
    owner.signup(owner_name)
    editor_name, viewer_name = unique("editor"), unique("viewer")
    editor.signup(editor_name)
    viewer.signup(viewer_name)
    team = owner.api("POST", "/api/teams", {"name": unique("Studio ")})
    owner.api("POST", f"/api/teams/{team['id']}/members", {"username": editor_name, "role": "editor"})
    owner.api("POST", f"/api/teams/{team['id']}/members", {"username": viewer_name, "role": "viewer"})
    wf = owner.api("POST", "/api/workflows", {"workspace": team["id"], "name": "Together", **IMAGE_DOC})
    path = f"/workflows/{wf['id']}?coedit=1"

    for someone in (owner, editor):
        someone.page.goto(path)
        expect(someone.page.locator(".coedit-status")).to_have_text("live")
    expect(owner.page.locator(".coedit-avatar")).to_have_count(1)  # the editor

    # One edit travels; two concurrent edits of different widgets both survive.
    set_widget(owner.page, "1", "width", "96")
    expect(widget(editor.page, "1", "width")).to_have_value("96")
    set_widget(editor.page, "2", "blur_radius", "3")
    set_widget(owner.page, "1", "height", "40")
    for someone in (owner, editor):
        expect(widget(someone.page, "1", "width")).to_have_value("96")
        expect(widget(someone.page, "1", "height")).to_have_value("40")
        expect(widget(someone.page, "2", "blur_radius")).to_have_value("3")

    # The others' pointer, with their name, and the node they selected, in their colour.
    owner.page.get_by_test_id("node-3").click(position={"x": 20, "y": 10})
    owner.page.mouse.move(700, 500)
    owner.page.mouse.move(720, 520)
    cursor = editor.page.locator(".coedit-cursor")
    expect(cursor).to_have_count(1)
    expect(cursor).to_contain_text(owner_name)
    selected = editor.page.locator('.react-flow__node[data-id="3"]')
    expect(selected).to_have_attribute("style", re.compile(r"outline: rgb\(.+\) solid 2px"))

    # A viewer sees the live draft read-only; presence shows and clears.
    viewer.page.goto(path)
    expect(viewer.page.locator(".coedit-status")).to_have_text("live")
    expect(widget(viewer.page, "1", "width")).to_have_value("96")
    expect(widget(viewer.page, "1", "width")).to_be_disabled()
    expect(owner.page.locator(".coedit-avatar")).to_have_count(2)
    editor.page.goto("/")
    expect(owner.page.locator(".coedit-avatar")).to_have_count(1)

    # A reload loses nothing; the draft is what every tab shows, and saves as version 2.
    owner.page.reload()
    expect(owner.page.locator(".coedit-status")).to_have_text("live")
    expect(widget(owner.page, "2", "blur_radius")).to_have_value("3")
    draft = owner.api("GET", f"/api/workflows/{wf['id']}/draft")
    assert draft["graph"]["nodes"]["1"]["inputs"]["width"] == 96
    assert draft["graph"]["nodes"]["1"]["inputs"]["height"] == 40
    assert draft["graph"]["nodes"]["2"]["inputs"]["blur_radius"] == 3
    version = owner.api("POST", f"/api/workflows/{wf['id']}/draft/save", {"message": "together"})
    assert version["number"] == 2 and version["graph"] == draft["graph"]
    assert not [e for s in (owner, editor, viewer) for e in s.errors if "coedit" in e.lower()]


# Each node of the canvas as the tab shows it: its id, its position, and the value of every widget.
SERIALISE = """() => [...document.querySelectorAll('.react-flow__node')].map((n) => [
  n.dataset.id,
  n.style.transform,
  [...n.querySelectorAll('[data-input]')].map((w) => [
    w.dataset.input,
    [...w.querySelectorAll('input, select, textarea')].map((f) => (f.type === 'checkbox' ? f.checked : f.value)),
  ]),
]).sort()"""


def serialised(page) -> Any:
    return page.evaluate(SERIALISE)


def eventually(check: Callable[[], bool], timeout: float = 20, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.2)


def converged(*people: Session) -> bool:
    graphs = [json.dumps(serialised(p.page)) for p in people]
    return len(set(graphs)) == 1 and graphs[0] != "[]"


def team_workflow(owner: Session, others: dict[str, str], document: dict = IMAGE_DOC) -> dict:
    """A team of ``owner`` with ``others`` ({username: role}), and a workflow (the image one) in it."""
    team = owner.api("POST", "/api/teams", {"name": unique("Studio ")})
    for username, role in others.items():
        owner.api("POST", f"/api/teams/{team['id']}/members", {"username": username, "role": role})
    return owner.api("POST", "/api/workflows", {"workspace": team["id"], "name": "Together", **document})


def open_live(someone: Session, path: str, timeout: float = 15_000) -> None:
    someone.page.goto(path)
    expect(someone.page.locator(".coedit-status")).to_have_text("live", timeout=timeout)


def send_as_reader(base: str, session: Session, workflow_id: int, value: int) -> list[dict]:
    """What a viewer's tab would send if its editor let it: a Yjs update setting node 1's width, over a real
    socket with the viewer's session. Returns the server's notices."""
    from pycrdt import Doc, Map, create_sync_message, create_update_message, read_message
    from websockets.sync.client import connect

    cookie = "; ".join(f"{c['name']}={c['value']}" for c in session.context.cookies())
    url = base.replace("http", "ws", 1) + f"/ws/workflows/{workflow_id}/doc/"
    doc: Doc = Doc()
    notices: list[dict] = []
    with connect(url, additional_headers={"Cookie": cookie, "Origin": base}) as socket:
        socket.send(create_sync_message(doc))
        while True:  # until the server's sync step 2 (its whole state) is applied
            frame = socket.recv(timeout=10)
            if isinstance(frame, str):
                notices.append(json.loads(frame))
            elif frame[0] == 0 and frame[1] == 1:
                doc.apply_update(read_message(frame[2:]))
                break
        updates: list[bytes] = []
        doc.observe(lambda event: updates.append(event.update))
        node = doc.get("nodes", type=Map)["1"]
        with doc.transaction():
            node["inputs"]["width"] = json.dumps(value)
        socket.send(create_update_message(updates[0]))
        deadline = time.monotonic() + 10
        while not any(n["type"] == "read_only" for n in notices) and time.monotonic() < deadline:
            frame = socket.recv(timeout=10)
            if isinstance(frame, str):
                notices.append(json.loads(frame))
    return notices


def test_three_editors_converge_and_a_viewers_edits_are_refused(person):
    owner, editor, admin, viewer = person(), person(), person(), person()
    owner.signup(unique("owner"))
    names = {unique("editor"): "editor", unique("admin"): "admin", unique("viewer"): "viewer"}
    for someone, username in zip((editor, admin, viewer), names, strict=True):
        someone.signup(username)
    wf = team_workflow(owner, names)
    path = f"/workflows/{wf['id']}"
    people = (owner, editor, admin)
    for someone in people:
        open_live(someone, path)
    expect(owner.page.locator(".coedit-avatar")).to_have_count(2)

    # At once: three different widgets, and the same widget by two people.
    set_widget(owner.page, "1", "width", "80")
    set_widget(editor.page, "1", "height", "30")
    set_widget(admin.page, "2", "blur_radius", "5")
    set_widget(owner.page, "2", "sigma", "2")
    set_widget(editor.page, "2", "sigma", "3")
    eventually(lambda: converged(*people), what="three tabs show the same graph")
    for someone in people:
        expect(widget(someone.page, "1", "width")).to_have_value("80")
        expect(widget(someone.page, "1", "height")).to_have_value("30")
        expect(widget(someone.page, "2", "blur_radius")).to_have_value("5")
    sigma = widget(owner.page, "2", "sigma").input_value()
    assert sigma in ("2", "3")
    draft = owner.api("GET", f"/api/workflows/{wf['id']}/draft")["graph"]["nodes"]
    assert (draft["1"]["inputs"]["width"], draft["1"]["inputs"]["height"]) == (80, 30)
    assert (draft["2"]["inputs"]["blur_radius"], draft["2"]["inputs"]["sigma"]) == (5, float(sigma))

    # A viewer joins: sees the draft, cannot edit it in the editor, and what it sends anyway is dropped.
    open_live(viewer, path)
    expect(widget(viewer.page, "1", "width")).to_have_value("80")
    expect(widget(viewer.page, "1", "width")).to_be_disabled()
    expect(owner.page.locator(".coedit-avatar")).to_have_count(3)
    notices = send_as_reader(owner.base, viewer, wf["id"], 999)
    assert [n["type"] for n in notices] == ["welcome", "read_only"]
    assert notices[0]["can_write"] is False
    time.sleep(0.5)
    for someone in (*people, viewer):
        expect(widget(someone.page, "1", "width")).to_have_value("80")
    assert (
        owner.api("GET", f"/api/workflows/{wf['id']}/draft")["graph"]["nodes"]["1"]["inputs"]["width"] == 80
    )

    # Presence clears as people leave; a reload of one tab mid-session loses nothing.
    admin.page.goto("/")
    expect(owner.page.locator(".coedit-avatar")).to_have_count(2)
    viewer.page.close()
    expect(owner.page.locator(".coedit-avatar")).to_have_count(1)
    editor.page.reload()
    expect(editor.page.locator(".coedit-status")).to_have_text("live")
    set_widget(editor.page, "1", "batch_size", "2")
    eventually(lambda: converged(owner, editor), what="owner and editor agree after the reload")
    expect(widget(owner.page, "1", "batch_size")).to_have_value("2")
    assert not [e for s in people for e in s.errors if "coedit" in e.lower()]


def test_a_run_one_person_starts_shows_on_the_others_canvas(person):
    owner, editor = person(), person()
    owner_name, editor_name = unique("owner"), unique("editor")
    owner.signup(owner_name)
    editor.signup(editor_name)
    # The image workflow with a second preview, which one of them will remove.
    document = json.loads(json.dumps(IMAGE_DOC))
    document["graph"]["nodes"]["4"] = {"type": "PreviewImage", "inputs": {"images": ["1", 0]}}
    document["layout"]["nodes"]["4"] = {"x": 320, "y": 300}
    wf = team_workflow(owner, {editor_name: "editor"}, document)
    path = f"/workflows/{wf['id']}"
    for someone in (owner, editor):
        open_live(someone, path)

    # A run of the saved version (only a widget differs): the server announces it.
    set_widget(owner.page, "2", "blur_radius", "4")
    expect(widget(editor.page, "2", "blur_radius")).to_have_value("4")
    owner.page.locator(".react-flow__pane").click(position={"x": 300, "y": 500})
    owner.page.keyboard.press("Control+Enter")
    expect(owner.page.locator(".fy-toast")).to_contain_text("Run queued")
    expect(editor.page.locator(".fy-toast")).to_contain_text(f"{owner_name} started a run")
    for node in ("1", "2", "3"):
        expect(editor.page.get_by_test_id(f"run-badge-{node}")).to_be_visible(timeout=30_000)
    expect(editor.page.get_by_test_id("node-3").locator(".fy-node-images img")).to_be_visible(timeout=30_000)

    # A raw-graph run (a node removed: the structure differs from the saved version): its starter shares it.
    editor.page.get_by_test_id("node-4").click(position={"x": 20, "y": 10})
    editor.page.keyboard.press("Delete")
    expect(owner.page.get_by_test_id("node-4")).to_have_count(0)
    expect(owner.page.get_by_test_id("run-badge-4")).to_have_count(0)
    editor.page.locator(".react-flow__pane").click(position={"x": 300, "y": 500})
    editor.page.keyboard.press("Control+Enter")
    expect(editor.page.locator(".fy-toast")).to_contain_text("Run queued")
    expect(owner.page.locator(".fy-toast")).to_contain_text(f"{editor_name} started a run")
    expect(owner.page.get_by_test_id("run-badge-3")).to_be_visible(timeout=30_000)
    runs = owner.api("GET", f"/api/runs?workflow={wf['id']}")
    listed = runs["results"] if isinstance(runs, dict) else runs
    assert len(listed) == 1  # the second run is not one of the workflow's: it was shared by its starter


def test_a_server_restart_mid_session_loses_nothing(person, restartable_server):
    server = restartable_server
    owner, editor = person(server.base), person(server.base)
    editor_name = unique("editor")
    owner.signup(unique("owner"))
    editor.signup(editor_name)
    wf = team_workflow(owner, {editor_name: "editor"})
    path = f"/workflows/{wf['id']}"
    for someone in (owner, editor):
        open_live(someone, path)
    set_widget(owner.page, "1", "width", "72")
    expect(widget(editor.page, "1", "width")).to_have_value("72")

    server.stop()
    for someone in (owner, editor):
        expect(someone.page.locator(".coedit-status")).not_to_have_text("live")
    set_widget(editor.page, "2", "blur_radius", "6")  # made while the server is away
    server.start()

    # Both tabs reconnect by themselves (backoff up to 15 s), the edit made while away reaches the others,
    # and editing goes on.
    for someone in (owner, editor):
        expect(someone.page.locator(".coedit-status")).to_have_text("live", timeout=45_000)
    expect(widget(owner.page, "2", "blur_radius")).to_have_value("6")
    set_widget(owner.page, "1", "height", "24")
    expect(widget(editor.page, "1", "height")).to_have_value("24")
    eventually(lambda: converged(owner, editor), what="both tabs agree after the restart")
    draft = owner.api("GET", f"/api/workflows/{wf['id']}/draft")["graph"]["nodes"]
    assert (draft["1"]["inputs"]["width"], draft["1"]["inputs"]["height"]) == (72, 24)
    assert draft["2"]["inputs"]["blur_radius"] == 6

    # A late joiner after a second restart gets everything from the database.
    for someone in (owner, editor):
        someone.page.goto("/")
    server.stop()
    server.start()
    late = person(server.base)
    late.context.add_cookies(editor.context.cookies())
    open_live(late, path)
    expect(widget(late.page, "1", "width")).to_have_value("72")
    expect(widget(late.page, "2", "blur_radius")).to_have_value("6")


def test_a_restore_resets_every_open_tab(person):
    owner, editor = person(), person()
    editor_name = unique("editor")
    owner.signup(unique("owner"))
    editor.signup(editor_name)
    wf = team_workflow(owner, {editor_name: "editor"})
    path = f"/workflows/{wf['id']}"
    for someone in (owner, editor):
        open_live(someone, path)
    set_widget(owner.page, "1", "width", "90")
    expect(widget(editor.page, "1", "width")).to_have_value("90")
    owner.page.locator(".react-flow__pane").click(position={"x": 300, "y": 500})
    owner.page.keyboard.press("Control+s")  # the draft saved as version 2 from the editor
    owner.page.get_by_role("form", name="Save workflow").get_by_role("button", name="Save").click()
    expect(owner.page.locator(".fy-version")).to_have_text("v2")
    set_widget(editor.page, "2", "blur_radius", "7")  # a draft edit on top of version 2
    expect(widget(owner.page, "2", "blur_radius")).to_have_value("7")

    # The owner restores version 1 from the editor's history (the draft's edit is given up: confirm).
    owner.page.once("dialog", lambda dialog: dialog.accept())
    owner.page.get_by_role("button", name="History").click()
    history = owner.page.get_by_role("complementary", name="Version history")
    history.locator("li[data-version='1']").get_by_role("button", name="Restore").click()
    expect(history.locator("li[data-version='3']")).to_be_visible()
    for someone in (owner, editor):
        expect(widget(someone.page, "1", "width")).to_have_value("64")
        expect(widget(someone.page, "2", "blur_radius")).to_have_value("2")
    eventually(lambda: converged(owner, editor), what="both tabs show version 1")
    # A later draft save keeps the restored content.
    saved = editor.api("POST", f"/api/workflows/{wf['id']}/draft/save", {"message": "after restore"})
    assert saved["graph"]["nodes"]["1"]["inputs"]["width"] == 64
    assert saved["graph"]["nodes"]["2"]["inputs"]["blur_radius"] == 2


def test_a_version_saved_in_one_tab_clears_the_unsaved_mark_in_the_others(person):
    owner, editor = person(), person()
    editor_name = unique("editor")
    owner.signup(unique("owner"))
    editor.signup(editor_name)
    wf = team_workflow(owner, {editor_name: "editor"})
    path = f"/workflows/{wf['id']}"
    for someone in (owner, editor):
        open_live(someone, path)
    set_widget(editor.page, "1", "width", "80")
    expect(widget(owner.page, "1", "width")).to_have_value("80")
    for someone in (owner, editor):
        expect(someone.page.locator(".fy-dirty")).to_be_visible()  # the draft differs from version 1
    owner.page.locator(".react-flow__pane").click(position={"x": 300, "y": 500})
    owner.page.keyboard.press("Control+s")
    owner.page.get_by_role("form", name="Save workflow").get_by_role("button", name="Save").click()
    expect(owner.page.locator(".fy-version")).to_have_text("v2")
    # The other tab learns of version 2: it shows the same content, so its mark clears.
    expect(editor.page.locator(".fy-version")).to_have_text("v2")
    for someone in (owner, editor):
        expect(someone.page.locator(".fy-dirty")).to_have_count(0)
    # An edit after the save marks both tabs again.
    set_widget(owner.page, "1", "height", "40")
    expect(widget(editor.page, "1", "height")).to_have_value("40")
    expect(editor.page.locator(".fy-dirty")).to_be_visible()
