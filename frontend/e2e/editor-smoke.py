"""Manual end-to-end smoke test of the editor in Chromium against a running server (not part of make test).

    apt-get install -y chromium && python -m venv /tmp/pw && /tmp/pw/bin/pip install playwright   # no browser download
    make frontend && DATABASE_URL=... .venv/bin/daphne -p 8767 backend.asgi:application &
    FLOWYARD_URL=http://127.0.0.1:8767 /tmp/pw/bin/python frontend/e2e/editor-smoke.py

Signs up a fresh user, adds nodes by search and by dropping a link in empty space, checks a refused link's
reason, copy/paste/undo, saves two versions and reloads. Restart the server after a rebuild (whitenoise indexes
static files at startup unless DEBUG is on).
"""

import os
import time

from playwright.sync_api import sync_playwright

BASE = os.environ.get("FLOWYARD_URL", "http://127.0.0.1:8767")
user = f"smoke{int(time.time())}"
errors = []
with sync_playwright() as p:
    b = p.chromium.launch(
        executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
    )
    ctx = b.new_context(viewport={"width": 1400, "height": 900})
    ctx.grant_permissions(["clipboard-read", "clipboard-write"])
    page = ctx.new_page()
    page.on(
        "console",
        lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type in ("error", "warning") else None,
    )
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.goto(BASE + "/")
    page.wait_for_url("**/login")
    page.click("text=Create one")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", "a-long-password-123")
    page.click("button[type=submit]")
    page.wait_for_selector("text=No workflows yet", timeout=10000)
    print("home empty state ok")
    page.click("text=Create your first workflow")
    page.wait_for_selector(".fy-palette", timeout=15000)
    print("editor loaded; palette categories:", page.locator(".fy-palette-toggle").all_inner_texts()[:8])
    # double-click the pane, search, add
    page.dblclick(".react-flow__pane", position={"x": 300, "y": 250})
    page.fill("input[aria-label='Search nodes']", "empty image")
    time.sleep(0.3)
    print("search results:", page.locator(".fy-search-popup li span").all_inner_texts()[:5])
    page.keyboard.press("Enter")
    page.wait_for_selector(".react-flow__node", timeout=5000)
    # drag a link from its first output to empty space -> compatible search
    out = page.locator(".react-flow__node .react-flow__handle.source").first
    box = out.bounding_box()
    page.mouse.move(box["x"] + 4, box["y"] + 4)
    page.mouse.down()
    page.mouse.move(box["x"] + 200, box["y"] + 60, steps=8)
    page.mouse.move(box["x"] + 320, box["y"] + 80, steps=8)
    page.mouse.up()
    page.wait_for_selector(".fy-search-popup", timeout=3000)
    print("link-drop search title:", page.locator(".fy-search-title").inner_text())
    page.fill("input[aria-label='Search nodes']", "blur")
    time.sleep(0.3)
    print("compatible results:", page.locator(".fy-search-popup li span").all_inner_texts()[:5])
    page.keyboard.press("Enter")
    time.sleep(0.5)
    print(
        "nodes:",
        page.locator(".react-flow__node").count(),
        "edges:",
        page.locator(".react-flow__edge").count(),
    )
    page.screenshot(path="/tmp/flowyard-smoke-editor.png")
    # refused link: Empty Image output onto its own width socket
    src = page.locator(".react-flow__node").first.locator(".react-flow__handle.source").first.bounding_box()
    dst = page.locator(".react-flow__node").first.locator("[data-handleid='in:width']").bounding_box()
    page.mouse.move(src["x"] + 4, src["y"] + 4)
    page.mouse.down()
    page.mouse.move(dst["x"] + 3, dst["y"] + 3, steps=12)
    page.mouse.up()
    time.sleep(0.3)
    print("refusal toast:", page.locator(".fy-toast").all_inner_texts())
    # shortcuts: select all, copy, paste, undo
    page.click(".react-flow__pane", position={"x": 900, "y": 700})
    page.keyboard.press("Control+a")
    page.keyboard.press("Control+c")
    page.mouse.move(700, 600)
    page.keyboard.press("Control+v")
    time.sleep(0.3)
    print("after paste nodes:", page.locator(".react-flow__node").count())
    page.keyboard.press("Control+z")
    time.sleep(0.3)
    print("after undo nodes:", page.locator(".react-flow__node").count())
    page.keyboard.press("?")
    print("help visible:", page.locator(".fy-help").is_visible())
    page.keyboard.press("?")
    # save
    page.keyboard.press("Control+s")
    page.wait_for_selector("form[aria-label='Save workflow']", timeout=3000)
    page.fill("input[name=name]", "Smoke flow")
    page.fill("input[name=message]", "first")
    page.click("form[aria-label='Save workflow'] button[type=submit]")
    try:
        page.wait_for_function("/^\\/workflows\\/\\d+$/.test(location.pathname)", timeout=8000)
    except Exception:
        print("save error:", page.locator(".fy-form-error").all_inner_texts())
        page.screenshot(path="/tmp/flowyard-smoke-save.png")
        raise
    print("saved at", page.url)
    page.reload()
    page.wait_for_selector(".react-flow__node", timeout=10000)
    print(
        "after reload nodes:",
        page.locator(".react-flow__node").count(),
        "edges:",
        page.locator(".react-flow__edge").count(),
    )
    # second version with Ctrl+S
    page.locator(".react-flow__node .fy-node-title").first.click()
    page.keyboard.press("Control+b")
    print("bypassed nodes:", page.locator(".fy-node.mode-bypass").count())
    page.keyboard.press("Control+s")
    page.fill("input[name=message]", "bypass")
    page.click("form[aria-label='Save workflow'] button[type=submit]")
    time.sleep(1)
    print(
        "version badge:",
        page.locator(".fy-version").inner_text(),
        "toast:",
        page.locator(".fy-toast").all_inner_texts(),
    )
    page.screenshot(path="/tmp/flowyard-smoke-editor2.png")
    page.goto(BASE + "/")
    page.wait_for_selector(".fy-workflow-list", timeout=5000)
    print("home list:", page.locator(".fy-workflow-list a").all_inner_texts())
    page.screenshot(path="/tmp/flowyard-smoke-home.png")
    b.close()
print("ERRORS:", *errors[:20], sep="\n  ")
