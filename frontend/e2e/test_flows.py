"""End-to-end scenarios in Chromium against the real server (see conftest.py). Each waits on visible states."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from conftest import IMAGE_DOC, PASSWORD, unique


def add_node_by_search(page: Page, query: str, at: tuple[int, int]) -> None:
    """Double-click empty canvas, type in the node search, pick the first match with Enter."""
    before = page.locator(".react-flow__node").count()
    page.locator(".react-flow__pane").dblclick(position={"x": at[0], "y": at[1]})
    search = page.get_by_label("Search nodes")
    search.fill(query)
    expect(page.locator(".fy-search-popup li").first).to_be_visible()
    search.press("Enter")
    expect(page.locator(".react-flow__node")).to_have_count(before + 1)


def drag_link(page: Page, source, target) -> None:
    """Drag from one handle to another with real mouse moves (React Flow needs intermediate moves)."""
    a = source.bounding_box()
    b = target.bounding_box()
    assert a and b
    page.mouse.move(a["x"] + a["width"] / 2, a["y"] + a["height"] / 2)
    page.mouse.down()
    page.mouse.move(b["x"] + b["width"] / 2 - 20, b["y"] + b["height"] / 2, steps=8)
    page.mouse.move(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2, steps=4)
    page.mouse.up()


def node(page: Page, title: str):
    return page.locator(".react-flow__node", has=page.locator(".fy-node-title", has_text=title))


def test_new_user_builds_saves_and_reloads_an_image_workflow(person):
    me = person()
    page = me.page
    username = unique("maker")
    # Sign up through the form.
    page.goto("/")
    page.wait_for_url("**/login*")
    page.get_by_role("link", name="Create one").click()
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="No workflows yet")).to_be_visible()
    page.get_by_role("link", name="Create your first workflow").click()
    expect(page.locator(".fy-palette")).to_be_visible()

    # Build EmptyImage -> Blur Image -> Preview Image with the double-click search.
    add_node_by_search(page, "empty image", (120, 200))
    add_node_by_search(page, "blur image", (520, 200))
    # Within the canvas left of the runs sidebar (which covers the pane's right edge).
    add_node_by_search(page, "preview image", (760, 200))
    empty, blur, preview = node(page, "Empty Image"), node(page, "Blur Image"), node(page, "Preview Image")
    drag_link(
        page, empty.locator(".react-flow__handle.source").first, blur.locator("[data-handleid='in:image']")
    )
    expect(page.locator(".react-flow__edge")).to_have_count(1)
    drag_link(
        page, blur.locator(".react-flow__handle.source").first, preview.locator("[data-handleid='in:images']")
    )
    expect(page.locator(".react-flow__edge")).to_have_count(2)

    # Set widgets: a small image, a bigger blur radius.
    width = empty.locator("[data-input=width] input[type=number]")
    width.fill("96")
    width.press("Tab")
    radius = blur.locator("[data-input=blur_radius] input[type=number]")
    radius.fill("3")
    radius.press("Tab")
    expect(page.locator(".fy-dirty")).to_be_visible()

    # Save with Ctrl+S: name and message.
    page.locator(".react-flow__pane").click(position={"x": 700, "y": 600})
    page.keyboard.press("Control+s")
    dialog = page.get_by_role("form", name="Save workflow")
    dialog.get_by_label("Name").fill("Blurred square")
    dialog.get_by_label("Message (optional)").fill("first cut")
    dialog.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r".*/workflows/\d+$"))
    expect(page.locator(".fy-version")).to_have_text("v1")
    expect(page.locator(".fy-dirty")).to_have_count(0)

    # Reload: the graph comes back with its values and links.
    page.reload()
    expect(page.locator(".react-flow__node")).to_have_count(3)
    expect(page.locator(".react-flow__edge")).to_have_count(2)
    expect(node(page, "Empty Image").locator("[data-input=width] input[type=number]")).to_have_value("96")
    expect(node(page, "Blur Image").locator("[data-input=blur_radius] input[type=number]")).to_have_value("3")

    # And it is listed on the home page.
    page.get_by_role("link", name="← Workflows").click()
    expect(page.get_by_role("link", name="Blurred square")).to_be_visible()
    assert not [e for e in me.errors if "pageerror" in e], me.errors


def test_run_shows_per_node_progress_and_the_output_image(person):
    me = person()
    me.signup(unique("runner"))
    user = me.api("GET", "/api/auth/me")
    wf = me.api(
        "POST",
        "/api/workflows",
        {"workspace": user["personal_workspace"]["id"], "name": "Run me", **IMAGE_DOC},
    )
    page = me.page
    page.goto(f"/workflows/{wf['id']}")
    expect(page.locator(".react-flow__node")).to_have_count(3)
    page.locator(".react-flow__pane").click(position={"x": 700, "y": 600})
    page.keyboard.press("Control+Enter")
    # Per-node progress: every node ends marked succeeded (or cached), then the preview shows the output image.
    # Until the runs UI lands, Run only shows a placeholder notice: that is a skip naming the reason.
    outcome = page.wait_for_function(
        """() => {
             const toast = document.querySelector('.fy-toast');
             if (toast && toast.textContent.includes('arrives with the runs API')) return 'placeholder';
             const nodes = [...document.querySelectorAll('.react-flow__node')];
             return nodes.length && nodes.every((n) => /succeeded|cached/.test(n.outerHTML)) ? 'done' : false;
           }""",
        timeout=30_000,
    ).json_value()
    if outcome == "placeholder":
        pytest.skip("the editor's Run is still the placeholder (the runs UI has not landed)")
    image = page.locator("img[src*='/outputs/']").first
    expect(image).to_be_visible(timeout=30_000)
    # Visible is not loaded: wait until the browser decoded the image.
    page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle(), timeout=15_000
    )


def test_teammate_invited_by_link_opens_the_shared_workflow_and_an_outsider_cannot(person):
    owner, mate, outsider, anonymous = person(), person(), person(), person()
    owner.signup(unique("owner"))
    mate_name = unique("mate")
    mate.signup(mate_name)
    outsider.signup(unique("outsider"))
    team = owner.api("POST", "/api/teams", {"name": unique("Studio ")})
    wf = owner.api("POST", "/api/workflows", {"workspace": team["id"], "name": "Team blur", **IMAGE_DOC})

    # The owner creates a single-use invite link on the team page.
    page = owner.page
    page.goto(f"/teams/{team['id']}")
    expect(page.get_by_role("heading", name=team["name"])).to_be_visible()
    form = page.get_by_role("form", name="Create invite link")
    form.get_by_label("Role for the link").select_option("viewer")
    form.get_by_role("button", name="Create link").click()
    url = page.get_by_test_id("invite-url").inner_text()
    assert "/invite/" in url

    # The teammate accepts it and sees the team and its workflow.
    mpage = mate.page
    mpage.goto(url)
    mpage.get_by_role("button", name="Accept invitation").click()
    expect(mpage.get_by_role("status")).to_contain_text(f"You joined {team['name']} as viewer")
    # A second accept: the link is spent (404), said plainly.
    mpage.reload()
    mpage.get_by_role("button", name="Accept invitation").click()
    expect(mpage.get_by_role("alert")).to_contain_text("already used or has been revoked")
    mpage.goto("/")
    expect(mpage.get_by_role("link", name="Team blur")).to_be_visible()
    mpage.get_by_role("link", name="Team blur").click()
    expect(mpage.locator(".react-flow__node")).to_have_count(3)
    expect(mpage.locator(".react-flow__edge")).to_have_count(2)
    expect(mpage.get_by_text("view only")).to_be_visible()

    # The owner sees the new member with their role; the owner row explains why it cannot be changed.
    page.reload()
    expect(page.locator(f"tr[data-member='{mate_name}']")).to_contain_text("viewer")
    expect(page.get_by_role("button", name="Leave team")).to_be_disabled()

    # An outsider gets the 404 page for the same address.
    opage = outsider.page
    opage.goto(f"/workflows/{wf['id']}")
    expect(opage.get_by_test_id("not-found")).to_be_visible()
    expect(opage.locator(".react-flow__node")).to_have_count(0)
    opage.goto("/no/such/page")
    expect(opage.get_by_role("heading", name="Page not found")).to_be_visible()

    # The owner publishes a public link from the share dialog; anyone opens it read-only, without signing in.
    page.goto(f"/workflows/{wf['id']}")
    page.get_by_role("button", name=re.compile("^Share")).click()
    page.get_by_role("button", name="Create public link").click()
    link = page.get_by_test_id("public-link").get_attribute("href")
    assert link and link.startswith("/p/")
    apage = anonymous.page
    apage.goto(link)
    expect(apage.get_by_text("read-only shared view")).to_be_visible()
    expect(apage.locator(".react-flow__node")).to_have_count(3)
    expect(apage.locator(".fy-palette")).to_have_count(0)
    # Revoked, the link stops working.
    page.get_by_role("button", name="Revoke link").click()
    expect(page.get_by_role("button", name="Create public link")).to_be_visible()
    apage.reload()
    expect(apage.get_by_role("heading", name="This link does not work")).to_be_visible()


def test_history_diff_restore_and_tokens(person):
    me = person()
    me.signup(unique("hist"))
    user = me.api("GET", "/api/auth/me")
    wf = me.api(
        "POST",
        "/api/workflows",
        {"workspace": user["personal_workspace"]["id"], "name": "History", **IMAGE_DOC},
    )
    changed = {"graph": {"nodes": {**IMAGE_DOC["graph"]["nodes"]}}, "layout": IMAGE_DOC["layout"]}
    changed["graph"]["nodes"]["2"] = {
        "type": "ImageBlur",
        "inputs": {"image": ["1", 0], "blur_radius": 9, "sigma": 1.0},
    }
    me.api("POST", f"/api/workflows/{wf['id']}/versions", {**changed, "message": "stronger blur"})
    page = me.page
    page.goto(f"/workflows/{wf['id']}")
    expect(page.locator(".fy-version")).to_have_text("v2")
    page.get_by_role("button", name="History").click()
    panel = page.get_by_role("complementary", name="Version history")
    v2 = panel.locator("li[data-version='2']")
    expect(v2).to_contain_text("stronger blur")
    v2.get_by_role("button", name="Changes").click()
    expect(v2).to_contain_text("Changed inputs of 1 node: Blur Image (blur_radius)")
    panel.locator("li[data-version='1']").get_by_role("button", name="Restore").click()
    expect(page.locator(".fy-version")).to_have_text("v3")
    expect(node(page, "Blur Image").locator("[data-input=blur_radius] input[type=number]")).to_have_value("2")

    # API tokens: created, shown once, listed by prefix, revoked.
    page.goto("/settings/tokens")
    expect(page.get_by_text("No tokens yet")).to_be_visible()
    page.get_by_label("Token name").fill("nightly")
    page.get_by_role("button", name="Create token").click()
    secret = page.get_by_test_id("new-token").inner_text()
    assert secret.startswith("fy_")
    row = page.locator("tr[data-token='nightly']")
    expect(row).to_contain_text(secret[:10])
    page.once("dialog", lambda d: d.accept())
    row.get_by_role("button", name="Revoke").click()
    expect(page.get_by_text("No tokens yet")).to_be_visible()


def tiny_png(width: int = 8, height: int = 6) -> bytes:
    """A solid green RGB PNG, built by hand (no imaging library in the test)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x20\xc0\x40" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def test_upload_into_load_image_then_run(person):
    me = person()
    me.signup(unique("uploader"))
    user = me.api("GET", "/api/auth/me")
    doc = {
        "graph": {
            "nodes": {
                "1": {"type": "LoadImage", "inputs": {"image": ""}},
                "2": {"type": "PreviewImage", "inputs": {"images": ["1", 0]}},
            }
        },
        "layout": {"nodes": {"1": {"x": 0, "y": 0}, "2": {"x": 360, "y": 0}}, "groups": []},
    }
    wf = me.api(
        "POST", "/api/workflows", {"workspace": user["personal_workspace"]["id"], "name": "Upload me", **doc}
    )
    page = me.page
    page.goto(f"/workflows/{wf['id']}")
    load = node(page, "Load Image")
    expect(load).to_be_visible()
    # Upload through the widget: the select then names the file and a thumbnail shows.
    load.get_by_label("Upload image").set_input_files(
        {"name": "green.png", "mimeType": "image/png", "buffer": tiny_png()}
    )
    expect(load.get_by_label("image", exact=True)).to_have_value(re.compile(r"green.*\.png"))
    expect(load.locator(".fy-thumb img")).to_be_visible()
    page.locator(".react-flow__pane").click(position={"x": 500, "y": 600})
    page.keyboard.press("Control+Enter")
    expect(page.get_by_test_id("run-badge-2")).to_be_visible(timeout=30_000)
    page.wait_for_function(
        """() => [...document.querySelectorAll('.react-flow__node')]
                   .every((n) => /status-(succeeded|cached)/.test(n.outerHTML))""",
        timeout=30_000,
    )
    image = node(page, "Preview Image").locator("img[src*='/outputs/']").first
    expect(image).to_be_visible(timeout=30_000)
    page.wait_for_function(
        "(img) => img.complete && img.naturalWidth === 8", arg=image.element_handle(), timeout=15_000
    )
    assert not [e for e in me.errors if "pageerror" in e], me.errors
