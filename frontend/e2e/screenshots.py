"""Screenshots of the main pages into docs/screenshots/*.png (``make screenshots``; not part of make test).

Starts a fresh server (conftest.run_server), builds a small story through the API (a team with a member and a
viewer, an image workflow with a group, a note, a reroute and two versions, a token, a public link) and photographs
each page in Chromium; home and editor also at 1280x800 and 1920x1080.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from conftest import CHROMIUM, CHROMIUM_ARGS, IMAGE_DOC, PASSWORD, run_server  # noqa: E402

# FLOWYARD_SCREENSHOTS_DIR: write elsewhere (to refresh only some of them by hand).
OUT = Path(
    os.environ.get("FLOWYARD_SCREENSHOTS_DIR") or Path(__file__).resolve().parents[2] / "docs" / "screenshots"
)


# A workflow with two app inputs and one app output (docs/apps.md), and a graph that waits at an Approval step.
APP_DOC = {
    "graph": {
        "nodes": {
            "1": {
                "type": "EmptyImage",
                "inputs": {"width": 96, "height": 64, "batch_size": 1, "color": 0x3366CC},
            },
            "2": {"type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "square"}},
        }
    },
    "layout": {
        "nodes": {"1": {"x": 0, "y": 0}, "2": {"x": 360, "y": 0}},
        "app": {
            "inputs": [
                {"name": "width", "node": "1", "input": "width", "min": 8, "max": 512, "label": "Width"},
                {"name": "color", "node": "1", "input": "color", "label": "Colour"},
            ],
            "outputs": [{"name": "image", "node": "2", "label": "Square"}],
        },
    },
}
GATED = {
    "nodes": {
        "1": {
            "type": "EmptyImage",
            "inputs": {"width": 96, "height": 64, "batch_size": 1, "color": 0x3366CC},
        },
        "gate": {
            "type": "Approval",
            "inputs": {"value": ["1", 0], "approvers": "owner", "message": "Is the colour right?"},
        },
        "3": {"type": "PreviewImage", "inputs": {"images": ["gate", 0]}},
    }
}


def api(context, method: str, path: str, data=None):
    csrf = next((c["value"] for c in context.cookies() if c["name"] == "csrftoken"), None)
    if csrf is None:
        context.request.get("/api/auth/csrf")
        csrf = next(c["value"] for c in context.cookies() if c["name"] == "csrftoken")
    response = context.request.fetch(path, method=method, data=data, headers={"X-CSRFToken": csrf})
    assert response.ok, f"{method} {path}: {response.status} {response.text()}"
    return response.json() if response.status != 204 else None


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with run_server() as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        mate = browser.new_context(base_url=base)
        api(mate, "POST", "/api/auth/signup", {"username": "sam", "password": PASSWORD})
        viewer = browser.new_context(viewport={"width": 1400, "height": 860}, base_url=base)
        api(viewer, "POST", "/api/auth/signup", {"username": "vic", "password": PASSWORD})
        api(viewer, "POST", "/api/auth/login", {"username": "vic", "password": PASSWORD})
        ctx = browser.new_context(viewport={"width": 1400, "height": 860}, base_url=base)
        api(ctx, "POST", "/api/auth/signup", {"username": "alex", "password": PASSWORD})
        user = api(ctx, "POST", "/api/auth/login", {"username": "alex", "password": PASSWORD})
        personal = user["personal_workspace"]["id"]
        team = api(ctx, "POST", "/api/teams", {"name": "Studio"})
        api(ctx, "POST", f"/api/teams/{team['id']}/members", {"username": "sam", "role": "editor"})
        api(ctx, "POST", f"/api/teams/{team['id']}/members", {"username": "vic", "role": "viewer"})
        api(ctx, "POST", f"/api/teams/{team['id']}/invites", {"role": "runner", "expires_in_hours": 72})
        doc = {
            **IMAGE_DOC,
            "layout": {
                **IMAGE_DOC["layout"],
                "groups": [
                    {"id": "g1", "title": "Make and soften", "x": -30, "y": -70, "width": 620, "height": 330}
                ],
                "notes": [
                    {
                        "id": "n1",
                        "x": 0,
                        "y": 300,
                        "width": 320,
                        "text": "## Banner\n\nA red image, **blurred**, then previewed.\nRaise `blur_radius` for softer edges.",
                        "markdown": True,
                    }
                ],
                "reroutes": [
                    {"id": "r1", "x": 600, "y": 200, "source": "2", "output": 0, "targets": [["3", "images"]]}
                ],
            },
        }
        wf = api(
            ctx,
            "POST",
            "/api/workflows",
            {
                "workspace": team["id"],
                "name": "Blurred banner",
                "description": "A red banner, softened.",
                **doc,
            },
        )
        changed = {
            "graph": {
                "nodes": {
                    **doc["graph"]["nodes"],
                    "2": {"type": "ImageBlur", "inputs": {"image": ["1", 0], "blur_radius": 6, "sigma": 1.0}},
                }
            },
            "layout": doc["layout"],
        }
        api(ctx, "POST", f"/api/workflows/{wf['id']}/versions", {**changed, "message": "stronger blur"})
        api(ctx, "PATCH", f"/api/workflows/{wf['id']}", {"is_template": True})
        api(ctx, "POST", "/api/workflows", {"workspace": personal, "name": "Sketch", **IMAGE_DOC})
        api(ctx, "POST", "/api/tokens", {"name": "nightly batch"})
        share = api(ctx, "POST", f"/api/workflows/{wf['id']}/share", {"public": True})
        page = ctx.new_page()

        page.goto("/")
        expect(page.get_by_role("link", name="Blurred banner").first).to_be_visible()
        expect(page.locator(".fy-template-grid li")).to_have_count(1)
        expect(page.get_by_text("Loading recent runs")).to_have_count(0)
        expect(page.get_by_text("Loading…")).to_have_count(0)
        page.screenshot(path=OUT / "home.png")

        page.goto(f"/workflows/{wf['id']}")
        expect(page.locator(".react-flow__node")).to_have_count(
            6
        )  # 3 nodes, the group, the note, the reroute
        expect(page.get_by_text("Loading…")).to_have_count(0)  # the runs sidebar's queue
        page.screenshot(path=OUT / "editor.png")
        page.get_by_role("button", name="History").click()
        page.locator("li[data-version='2']").get_by_role("button", name="Changes").click()
        expect(page.get_by_text("Changed inputs of 1 node")).to_be_visible()
        page.screenshot(path=OUT / "editor-history.png")
        page.get_by_role("button", name="Close version history").click()
        page.get_by_role("button", name="Share (public)").click()
        expect(page.get_by_test_id("public-link")).to_be_visible()
        page.screenshot(path=OUT / "editor-share.png")

        page.get_by_role("button", name="Done").click()
        # Right-click an empty spot in the lower half of the canvas (not a node, the note or the minimap).
        spot = page.evaluate(
            """() => {
                 const pane = document.querySelector('.react-flow__pane').getBoundingClientRect();
                 for (let y = Math.round(pane.height * 0.6); y < pane.height - 220; y += 40)
                   for (let x = Math.round(pane.width * 0.4); x < pane.width - 260; x += 40) {
                     const hit = document.elementFromPoint(pane.left + x, pane.top + y);
                     if (hit && hit.classList.contains('react-flow__pane')) return { x, y };
                   }
                 return { x: 40, y: 80 };
               }"""
        )
        page.locator(".react-flow__pane").click(button="right", position=spot)
        expect(page.get_by_role("menu", name="Canvas menu")).to_be_visible()
        page.screenshot(path=OUT / "editor-canvas-menu.png")
        page.keyboard.press("Escape")

        # Home and editor at the two window sizes every page is checked at (header on one line, no sideways scroll).
        for width, height in ((1280, 800), (1920, 1080)):
            page.set_viewport_size({"width": width, "height": height})
            page.goto("/")
            expect(page.get_by_role("link", name="Blurred banner").first).to_be_visible()
            expect(page.get_by_text("Loading recent runs")).to_have_count(0)
            page.screenshot(path=OUT / f"home-{width}.png")
            page.goto(f"/workflows/{wf['id']}")
            expect(page.locator(".react-flow__node")).to_have_count(6)
            expect(page.get_by_text("Loading…")).to_have_count(0)
            page.screenshot(path=OUT / f"editor-{width}.png")
            assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.set_viewport_size({"width": 1400, "height": 860})

        vpage = viewer.new_page()
        vpage.goto(f"/workflows/{wf['id']}")
        expect(vpage.get_by_test_id("view-only")).to_be_visible()
        expect(vpage.locator(".react-flow__node")).to_have_count(6)
        expect(vpage.get_by_text("Loading…")).to_have_count(0)
        vpage.screenshot(path=OUT / "editor-view-only.png")

        page.goto(f"/teams/{team['id']}")
        expect(page.get_by_role("heading", name="Members (3)")).to_be_visible()
        page.screenshot(path=OUT / "team-settings.png", full_page=True)

        page.goto("/settings/tokens")
        page.get_by_label("Token name").fill("ci deploy")
        page.get_by_role("button", name="Create token").click()
        expect(page.get_by_test_id("new-token")).to_be_visible()
        page.screenshot(path=OUT / "tokens.png")

        anon = browser.new_context(viewport={"width": 1400, "height": 860}, base_url=base).new_page()
        anon.goto("/p/" + share["public_url"].rstrip("/").split("/")[-1])
        expect(anon.locator(".fy-node")).to_have_count(3)
        anon.screenshot(path=OUT / "shared-view.png")

        page.goto("/workflows/999999")
        expect(page.get_by_test_id("not-found")).to_be_visible()
        page.screenshot(path=OUT / "not-found.png")

        # Apps: a workflow exposing two inputs and its output, published; the form at /apps/<slug> after a run.
        square = api(
            ctx, "POST", "/api/workflows", {"workspace": team["id"], "name": "Square maker", **APP_DOC}
        )
        api(ctx, "POST", "/api/apps", {"workflow": square["id"], "slug": "square", "title": "Square maker"})
        page.goto(f"/workflows/{square['id']}")
        expect(page.locator(".react-flow__node")).to_have_count(2)
        page.get_by_role("button", name="App", exact=True).click()
        expect(page.get_by_role("complementary", name="App")).to_be_visible()
        page.screenshot(path=OUT / "editor-app-panel.png")
        page.get_by_role("button", name="Automation", exact=True).click()
        expect(page.get_by_role("complementary", name="Automation")).to_be_visible()
        page.screenshot(path=OUT / "editor-automation.png")
        page.goto("/apps/square")
        expect(page.get_by_role("heading", name="Square maker")).to_be_visible()
        page.get_by_role("button", name="Run").click()
        expect(page.get_by_role("figure").first).to_be_visible(timeout=30_000)
        page.screenshot(path=OUT / "app-page.png", full_page=True)
        page.goto("/apps")
        expect(page.get_by_role("link", name="Square maker")).to_be_visible()
        page.screenshot(path=OUT / "apps.png")

        # An approval step waiting for its approver: the run page and /approvals.
        gated = api(ctx, "POST", "/api/runs", {"workspace": personal, "graph": GATED})
        page.goto(f"/runs/{gated['id']}")
        expect(page.locator(".fy-run-pill").first).to_have_text("awaiting_approval", timeout=30_000)
        expect(page.get_by_role("region", name="Approvals").locator("img")).to_have_count(1)
        page.screenshot(path=OUT / "run-approval.png", full_page=True)
        page.goto("/approvals")
        expect(page.locator(".fy-approval").first).to_be_visible()
        page.screenshot(path=OUT / "approvals.png")

        # A newcomer's first page: no workflows, the built-in templates in the middle, at both window sizes.
        newcomer = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=base)
        api(newcomer, "POST", "/api/auth/signup", {"username": "nina", "password": PASSWORD})
        api(newcomer, "POST", "/api/auth/login", {"username": "nina", "password": PASSWORD})
        npage = newcomer.new_page()
        for width, height in ((1280, 800), (1920, 1080)):
            npage.set_viewport_size({"width": width, "height": height})
            npage.goto("/")
            expect(npage.get_by_role("heading", name="No workflows yet")).to_be_visible()
            expect(npage.locator(".fy-builtin")).to_have_count(4)
            npage.wait_for_function(
                "() => [...document.querySelectorAll('.fy-builtin img')].every((i) => i.complete && i.naturalWidth)"
            )
            expect(npage.get_by_text("Loading recent runs")).to_have_count(0)
            npage.screenshot(path=OUT / f"home-first-run-{width}.png")
            assert npage.evaluate("document.documentElement.scrollWidth") <= width
        browser.close()
    for png in sorted(OUT.glob("*.png")):
        print(png)


if __name__ == "__main__":
    main()
