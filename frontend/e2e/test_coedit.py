"""Live co-editing in the editor (behind ?coedit=1): two editors and a viewer in one workflow, in three browser
contexts. An edit in one tab shows in the other, concurrent edits of two widgets both survive, presence shows and
clears, a reload loses nothing, and the draft saves as the next version."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from conftest import IMAGE_DOC, unique


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
