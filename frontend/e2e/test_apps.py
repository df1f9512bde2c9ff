"""Apps in a real browser: an owner exposes inputs and outputs in the editor and publishes the workflow as an
app; a runner, who cannot open the (private) graph, runs it from the form and sees the output; the same app runs
through its endpoint with an app key (docs/apps.md)."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect

from conftest import unique

APP_DOC = {
    "graph": {
        "nodes": {
            "1": {
                "type": "EmptyImage",
                "inputs": {"width": 16, "height": 12, "batch_size": 1, "color": 16711680},
            },
            "2": {"type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "app"}},
        }
    },
    "layout": {"nodes": {"1": {"x": 0, "y": 0}, "2": {"x": 360, "y": 0}}, "groups": []},
}


def node(page, title: str):
    return page.locator(".react-flow__node", has=page.locator(".fy-node-title", has_text=title))


def test_publish_an_app_run_it_as_a_runner_and_through_its_endpoint(person, server):
    owner, runner = person(), person()
    owner.signup(unique("owner"))
    runner.signup(unique("runner"))
    team = owner.api("POST", "/api/teams", {"name": unique("Apps ")})
    wf = owner.api(
        "POST",
        "/api/workflows",
        {"workspace": team["id"], "name": "Red square", "visibility": "private", **APP_DOC},
    )
    invite = owner.api("POST", f"/api/teams/{team['id']}/invites", {"role": "runner"})
    runner.api("POST", f"/api/invites/{invite['token']}/accept")

    # The owner exposes the width widget and the SaveImage node in the editor, labels the input, saves.
    page = owner.page
    page.goto(f"/workflows/{wf['id']}")
    expect(page.locator(".react-flow__node")).to_have_count(2)
    node(page, "Empty Image").locator(".fy-node-title").click(button="right")
    page.get_by_role("menuitem", name="Expose width as app input").click()
    node(page, "Save Image").locator(".fy-node-title").click(button="right")
    page.get_by_role("menuitem", name="Show as app output").click()
    page.get_by_role("button", name="App", exact=True).click()
    panel = page.get_by_role("complementary", name="App")
    field = panel.locator("[data-app-input=width]")
    field.get_by_label("Label").fill("Width in pixels")
    field.get_by_label("max").fill("64")
    page.locator(".react-flow__pane").click(position={"x": 700, "y": 600})
    page.keyboard.press("Control+s")
    page.get_by_role("form", name="Save workflow").get_by_role("button", name="Save").click()
    expect(page.locator(".fy-version")).to_have_text("v2")
    version = owner.api("GET", f"/api/workflows/{wf['id']}/versions/2")
    layout = version.get("layout") or version["document"]["layout"]
    assert layout["app"]["inputs"] == [
        {"name": "width", "node": "1", "input": "width", "label": "Width in pixels", "max": 64}
    ]

    # ...and publishes it from the App panel.
    slug = unique("red-")
    panel = page.get_by_role("complementary", name="App")
    form = panel.get_by_role("form", name="Publish as app")
    form.get_by_label("App slug").fill(slug)
    form.get_by_role("button", name=re.compile("^Publish")).click()
    expect(panel.get_by_role("link", name=f"/apps/{slug}")).to_be_visible()

    # The runner cannot open the graph, but uses the app's form.
    rpage = runner.page
    rpage.goto(f"/workflows/{wf['id']}")
    expect(rpage.get_by_test_id("not-found")).to_be_visible()
    rpage.goto("/apps")
    rpage.get_by_role("link", name="Red square").click()
    expect(rpage.get_by_role("heading", name="Red square")).to_be_visible()
    expect(rpage.get_by_role("link", name=re.compile("Open workflow"))).to_have_count(0)
    width = rpage.get_by_role("spinbutton", name="Width in pixels")
    expect(rpage.get_by_role("slider", name="Width in pixels slider")).to_have_value("16")
    width.fill("99")
    rpage.get_by_role("button", name="Run").click()
    expect(rpage.get_by_role("alert").first).to_contain_text("above the maximum 64")
    width.fill("40")
    rpage.get_by_role("button", name="Run").click()
    result = rpage.locator(".fy-app-run[data-status=succeeded]")
    expect(result).to_be_visible(timeout=30_000)
    image = result.locator("figure img")
    expect(image).to_have_count(1)
    expect(image).to_have_js_property("naturalWidth", 40)
    expect(rpage.locator(".fy-app-runs li")).to_have_count(1)
    # A runner manages no keys: the API section is the editors'.
    expect(rpage.get_by_role("region", name="API")).to_have_count(0)

    # The owner (who may open the graph, and so follows the run's websocket too) runs the form as well.
    page.goto(f"/apps/{slug}")
    expect(page.get_by_role("link", name=re.compile("Open workflow"))).to_be_visible()
    page.get_by_role("spinbutton", name="Width in pixels").fill("20")
    page.get_by_role("button", name="Run").click()
    owner_result = page.locator(".fy-app-run[data-status=succeeded]")
    expect(owner_result).to_be_visible(timeout=30_000)
    expect(owner_result.locator("figure img")).to_have_js_property("naturalWidth", 20)
    expect(page.locator(".fy-app-runs li")).to_have_count(2)

    # The owner creates an app key on the app page; the key runs the app through its endpoint, no cookies.
    page.get_by_label("Key name").fill("ci")
    page.get_by_role("button", name="Create key").click()
    key = page.get_by_test_id("app-key").inner_text()
    assert key.startswith("fyk_")
    api = owner.context.browser.new_context(base_url=server).request
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": "e2e-1"}
    started = api.post(f"/api/apps/{slug}/runs", data={"width": 24}, headers=headers)
    assert started.status == 201, started.text()
    again = api.post(f"/api/apps/{slug}/runs", data={"width": 24}, headers=headers)
    assert again.status == 200 and again.json()["id"] == started.json()["id"]
    run_id = started.json()["id"]
    deadline = time.monotonic() + 30
    while True:
        body = api.get(f"/api/apps/{slug}/runs/{run_id}", headers=headers).json()
        if body["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert body["status"] == "succeeded", body
    [output] = body["outputs"]["save_image"]
    download = api.get(output["url"])
    assert download.status == 200 and download.body()[:4] == b"\x89PNG"
    # The key is scoped: the rest of the API does not know it.
    assert api.get("/api/runs", headers=headers).status == 401
    assert api.get(f"/api/workflows/{wf['id']}", headers=headers).status == 401
    doc = api.get(f"/api/apps/{slug}/openapi.json", headers=headers).json()
    assert doc["components"]["schemas"]["Inputs"]["properties"]["width"]["maximum"] == 64
