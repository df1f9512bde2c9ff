"""Conflicts between two editors of one workflow, in two browser contexts. To make two edits truly concurrent,
each tab's co-editing socket goes through a Playwright WebSocket route that can hold its messages: both people
edit while neither has the other's edit (nor has sent their own), then the held messages go through, as when
two updates cross on the server. Nodes added at once keep distinct integer ids (both survive); a node deleted
while the other edits it stays deleted and the other is told, naming it; different widgets both survive and the
same widget converges on one value in both tabs, the server's draft and the saved version; edits inside one
subgraph merge node by node."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect

from conftest import IMAGE_DOC, unique

DOC_SOCKET = re.compile(r".*/ws/workflows/\d+/doc/$")


class HeldSocket:
    """A tab's co-editing socket whose messages (both ways) can be held back and then let through in order."""

    def __init__(self, page: Page) -> None:
        self.holding = False
        self.outgoing: list[Any] = []
        self.incoming: list[Any] = []
        self.client: Any = None
        self.server: Any = None
        page.route_web_socket(DOC_SOCKET, self._route)

    def _route(self, ws: Any) -> None:
        server = ws.connect_to_server()
        self.client, self.server = ws, server
        ws.on_message(lambda m: self.outgoing.append(m) if self.holding else server.send(m))
        server.on_message(lambda m: self.incoming.append(m) if self.holding else ws.send(m))

    def hold(self) -> None:
        self.holding = True

    def release(self) -> None:
        self.holding = False
        for message in self.outgoing:
            self.server.send(message)
        for message in self.incoming:
            self.client.send(message)
        self.outgoing, self.incoming = [], []


def two_editors(person) -> tuple[Any, Any, dict, HeldSocket, HeldSocket]:
    owner, editor = person(), person()
    owner.signup(unique("owner"))
    editor_name = unique("editor")
    editor.signup(editor_name)
    team = owner.api("POST", "/api/teams", {"name": unique("Studio ")})
    owner.api("POST", f"/api/teams/{team['id']}/members", {"username": editor_name, "role": "editor"})
    wf = owner.api("POST", "/api/workflows", {"workspace": team["id"], "name": "Crossing", **IMAGE_DOC})
    sockets = (HeldSocket(owner.page), HeldSocket(editor.page))
    for someone in (owner, editor):
        someone.page.goto(f"/workflows/{wf['id']}")
        expect(someone.page.locator(".coedit-status")).to_have_text("live")
    expect(owner.page.locator(".coedit-avatar")).to_have_count(1)
    return owner, editor, wf, *sockets


def node_ids(page: Page) -> list[str]:
    return sorted(
        page.locator(".react-flow__node[data-id]").evaluate_all("(ns) => ns.map((n) => n.dataset.id)")
    )


def widget(page: Page, node: str, name: str):
    return page.get_by_test_id(f"node-{node}").locator(f"[data-input={name}] input[type=number]")


def set_widget(page: Page, node: str, name: str, value: str) -> None:
    field = widget(page, node, name)
    field.fill(value)
    field.press("Tab")


def test_nodes_added_at_once_by_two_editors_both_survive_with_distinct_integer_ids(person):
    owner, editor, wf, owner_socket, editor_socket = two_editors(person)
    owner_socket.hold()
    editor_socket.hold()
    for someone, label in ((owner, "Empty Image"), (editor, "Preview Image")):
        someone.page.get_by_label("Filter nodes").fill(label.lower())
        someone.page.locator(".fy-palette-results").get_by_role("button", name=label).click()
        someone.page.locator(".fy-palette-results").get_by_role("button", name=label).click()
        expect(someone.page.locator(".react-flow__node")).to_have_count(5)
    mine, theirs = set(node_ids(owner.page)) - {"1", "2", "3"}, set(node_ids(editor.page)) - {"1", "2", "3"}
    assert len(mine) == 2 and len(theirs) == 2
    assert not mine & theirs, (mine, theirs)  # the editor alone would have numbered both pairs 4 and 5
    owner_socket.release()
    editor_socket.release()

    for someone in (owner, editor):
        expect(someone.page.locator(".react-flow__node")).to_have_count(7)
    assert node_ids(owner.page) == node_ids(editor.page)
    ids = node_ids(owner.page)
    assert all(re.fullmatch(r"\d+", i) and int(i) < 2**53 for i in ids), ids

    # Saved from the editor's Save button: the version is the draft, with every node, ComfyUI-style integer ids.
    owner.page.get_by_role("button", name="Save", exact=True).click()
    owner.page.get_by_role("form", name="Save workflow").get_by_role("button", name="Save").click()
    expect(owner.page.locator(".fy-version")).to_have_text("v2")
    version = owner.api("GET", f"/api/workflows/{wf['id']}/versions/2")
    assert sorted(version["graph"]["nodes"]) == ids
    draft = owner.api("GET", f"/api/workflows/{wf['id']}/draft")
    assert draft["graph"] == version["graph"]
    types = sorted(n["type"] for n in version["graph"]["nodes"].values())
    assert types.count("EmptyImage") == 3 and types.count("PreviewImage") == 3


def test_a_node_deleted_while_the_other_edits_it_stays_deleted_and_the_other_is_told(person):
    owner, editor, wf, owner_socket, _ = two_editors(person)
    # The owner selects the blur node and edits its widget while cut off; the editor deletes the node meanwhile.
    owner_socket.hold()
    owner.page.get_by_test_id("node-2").locator(".fy-node-title").click()
    set_widget(owner.page, "2", "blur_radius", "9")
    editor.page.get_by_test_id("node-2").locator(".fy-node-title").click()
    editor.page.keyboard.press("Delete")
    expect(editor.page.locator(".react-flow__node")).to_have_count(2)
    expect(widget(owner.page, "2", "blur_radius")).to_have_value("9")
    owner_socket.release()

    toast = owner.page.locator(".fy-toast")
    expect(toast).to_contain_text("node 2")
    expect(toast).to_contain_text("deleted by someone else")
    for someone in (owner, editor):
        expect(someone.page.locator(".react-flow__node")).to_have_count(2)
        expect(someone.page.get_by_test_id("node-2")).to_have_count(0)
    expect(editor.page.locator(".fy-toast", has_text="deleted by someone else")).to_have_count(0)
    draft = owner.api("GET", f"/api/workflows/{wf['id']}/draft")
    assert sorted(draft["graph"]["nodes"]) == ["1", "3"]


def test_different_widgets_both_survive_and_the_same_widget_converges(person):
    owner, editor, wf, owner_socket, editor_socket = two_editors(person)
    owner_socket.hold()
    editor_socket.hold()
    set_widget(owner.page, "1", "width", "100")
    set_widget(owner.page, "1", "height", "50")
    set_widget(editor.page, "1", "width", "120")
    set_widget(editor.page, "2", "blur_radius", "4")
    owner_socket.release()
    editor_socket.release()

    expect(widget(owner.page, "2", "blur_radius")).to_have_value("4")
    expect(widget(editor.page, "1", "height")).to_have_value("50")
    width = widget(owner.page, "1", "width")
    expect(width).to_have_value(re.compile(r"^(100|120)$"))
    expect(widget(editor.page, "1", "width")).to_have_value(width.input_value())
    owner.page.wait_for_timeout(300)  # both tabs settled: the value they show is the one they keep
    agreed = width.input_value()
    expect(widget(editor.page, "1", "width")).to_have_value(agreed)
    draft = owner.api("GET", f"/api/workflows/{wf['id']}/draft")
    inputs = draft["graph"]["nodes"]
    assert inputs["1"]["inputs"]["width"] == int(agreed)
    assert inputs["1"]["inputs"]["height"] == 50
    assert inputs["2"]["inputs"]["blur_radius"] == 4


def test_edits_inside_one_subgraph_by_two_editors_at_once_both_survive(person):
    owner, editor, wf, owner_socket, editor_socket = two_editors(person)
    # The owner turns the first two nodes into a subgraph; it reaches the editor live.
    owner.page.get_by_test_id("node-1").locator(".fy-node-title").click()
    owner.page.get_by_test_id("node-2").locator(".fy-node-title").click(modifiers=["Control"])
    owner.page.once("dialog", lambda d: d.accept("Inner"))
    owner.page.get_by_role("button", name="Convert to subgraph").click()
    for someone in (owner, editor):
        expect(someone.page.locator(".react-flow__node")).to_have_count(2)

    def inner_widget(page: Page, title: str, name: str):
        inner = page.locator(".react-flow__node", has=page.locator(".fy-node-title", has_text=title))
        return inner.locator(f"[data-input={name}] input[type=number]")

    owner_socket.hold()
    editor_socket.hold()
    for someone, title, name, value in (
        (owner, "Empty Image", "width", "100"),
        (editor, "Blur Image", "blur_radius", "5"),
    ):
        page = someone.page
        page.locator(".react-flow__node", has=page.locator(".fy-node-title", has_text="Inner")).locator(
            ".fy-node-body"
        ).dblclick()
        expect(page.get_by_role("navigation", name="Subgraph")).to_contain_text("Inner")
        field = inner_widget(page, title, name)
        field.fill(value)
        field.press("Tab")
        page.get_by_role("navigation", name="Subgraph").get_by_role("button", name="Workflow").click()
        expect(page.get_by_role("navigation", name="Subgraph")).to_have_count(0)
    owner_socket.release()
    editor_socket.release()

    def inner_inputs() -> dict[str, Any]:
        draft = owner.api("GET", f"/api/workflows/{wf['id']}/draft")
        (definition,) = draft["graph"]["subgraphs"].values()
        return {n["type"]: n["inputs"] for n in definition["nodes"].values()}

    inputs = inner_inputs()
    for _ in range(60):  # the released updates reach the server (no clock asserted: waits while they travel)
        if inputs["EmptyImage"]["width"] == 100 and inputs["ImageBlur"]["blur_radius"] == 5:
            break
        owner.page.wait_for_timeout(250)
        inputs = inner_inputs()
    assert inputs["EmptyImage"]["width"] == 100, inputs
    assert inputs["ImageBlur"]["blur_radius"] == 5, inputs
    # Both tabs show both edits inside the subgraph.
    for someone in (owner, editor):
        page = someone.page
        page.locator(".react-flow__node", has=page.locator(".fy-node-title", has_text="Inner")).locator(
            ".fy-node-body"
        ).dblclick()
        expect(inner_widget(page, "Empty Image", "width")).to_have_value("100")
        expect(inner_widget(page, "Blur Image", "blur_radius")).to_have_value("5")
