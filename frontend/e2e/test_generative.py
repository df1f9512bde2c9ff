"""The generative features in Chromium against the real server with a model library (conftest.models_server):
ComfyUI's default txt2img template imported through the UI and run on a tiny SD1 checkpoint (picker, live
progress and preview, the decoded image), a checkpoint the library lacks, subgraphs (convert, open, breadcrumb,
run), and a video output that the browser can play.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from conftest import IMAGE_DOC, ROOT, TEMPLATE_CHECKPOINT, Session, unique
from playwright.sync_api import Locator, Page, expect

DEFAULT_TEMPLATE = resources.files("comfyui_workflow_templates") / "templates" / "default.json"
# Screenshots for docs/ui.md are written only when asked (FLOWYARD_E2E_SCREENSHOTS=1), so `make e2e` leaves the
# tracked images alone.
SCREENSHOTS = ROOT / "docs" / "screenshots"


def shoot(page: Page, name: str) -> None:
    if os.environ.get("FLOWYARD_E2E_SCREENSHOTS", "").lower() in {"1", "true", "yes"}:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / name))


# The default template's node ids (ComfyUI's own numbering, kept by the import).
KSAMPLER, CHECKPOINT, LATENT, SAVE = "3", "4", "5", "9"

# Records what a node shows while it runs, from DOM mutations: a fast run may show its progress bar and live
# preview only for a moment, so a later query could miss them. window.__seen[id] = {progress: [values],
# previews: [naturalWidth of each loaded preview]}.
WATCH_NODE = """(id) => {
  window.__seen = window.__seen || {};
  const seen = (window.__seen[id] = { progress: [], previews: [] });
  const look = () => {
    const node = document.querySelector(`[data-testid="node-${id}"]`);
    if (!node) return;
    const bar = node.querySelector('.fy-progress[role=progressbar]');
    if (bar) seen.progress.push(Number(bar.getAttribute('aria-valuenow')));
    for (const img of node.querySelectorAll('img.fy-node-preview')) {
      if (img.__watched) continue;
      img.__watched = true;
      const record = () => img.naturalWidth > 0 && seen.previews.push(img.naturalWidth);
      if (img.complete) record(); else img.addEventListener('load', record, { once: true });
    }
  };
  new MutationObserver(look).observe(document.body, {
    subtree: true, childList: true, attributes: true, attributeFilter: ['aria-valuenow', 'src'],
  });
}"""


def node(page: Page, node_id: str) -> Locator:
    return page.get_by_test_id(f"node-{node_id}")


def set_number(page: Page, node_id: str, name: str, value: int) -> None:
    field = node(page, node_id).locator(f"[data-input={name}] input[type=number]")
    field.fill(str(value))
    field.press("Tab")
    expect(field).to_have_value(str(value))


def run_with_keyboard(page: Page) -> None:
    page.locator(".react-flow__pane").click(position={"x": 20, "y": 600})
    page.keyboard.press("Control+Enter")


def wait_all_succeeded(page: Page, timeout: float = 60_000) -> None:
    page.wait_for_function(
        """() => {
             const nodes = [...document.querySelectorAll('.react-flow__node')];
             if (nodes.some((n) => n.querySelector('.run-failed, .run-invalid'))) return 'failed';
             return nodes.length > 0 && nodes.every((n) => n.querySelector('.run-succeeded, .run-cached'));
           }""",
        timeout=timeout,
    )
    failed = page.locator(".react-flow__node .run-failed, .react-flow__node .run-invalid")
    assert failed.count() == 0, failed.first.inner_text()


def new_workflow(me: Session, name: str, doc: dict) -> dict:
    user = me.api("GET", "/api/auth/me")
    return me.api(
        "POST", "/api/workflows", {"workspace": user["personal_workspace"]["id"], "name": name, **doc}
    )


def no_page_errors(me: Session) -> None:
    assert not [e for e in me.errors if "pageerror" in e], me.errors


def test_comfy_default_template_imports_and_runs_txt2img_with_live_preview(
    models_person: Callable[[], Session],
) -> None:
    me = models_person()
    me.signup(unique("painter"))
    page = me.page
    page.goto("/")
    # Import the file through the home page's "Import ComfyUI workflow" (its hidden file input).
    page.get_by_label("ComfyUI workflow file").set_input_files(str(DEFAULT_TEMPLATE))
    page.wait_for_url("**/workflows/new")
    expect(page.get_by_role("status", name="Import notes")).to_be_visible()
    expect(page.locator(".react-flow__node")).to_have_count(7)
    expect(page.locator(".react-flow__node .fy-missing")).to_have_count(0)

    # The checkpoint picker lists the library's file (with its size) and has the template's name chosen.
    picker = node(page, CHECKPOINT).get_by_label("ckpt_name", exact=True)
    expect(picker).to_have_value(TEMPLATE_CHECKPOINT)
    expect(picker.locator("option", has_text=TEMPLATE_CHECKPOINT)).to_have_text(
        re.compile(re.escape(TEMPLATE_CHECKPOINT) + r" \(\d+(\.\d+)? [KM]B\)")
    )
    expect(node(page, CHECKPOINT).locator(".fy-field-error")).to_have_count(0)

    # Quick on the CPU: 4 steps at 128x128 (the sampler, scheduler, cfg and prompts stay the template's).
    set_number(page, KSAMPLER, "steps", 4)
    set_number(page, LATENT, "width", 128)
    set_number(page, LATENT, "height", 128)

    page.evaluate(WATCH_NODE, KSAMPLER)
    run_with_keyboard(page)
    expect(page.get_by_text(re.compile("^Run queued"))).to_be_visible()
    wait_all_succeeded(page, timeout=60_000)

    # While it sampled, the KSampler showed its steps and at least one decoded live preview.
    seen = page.evaluate(f"window.__seen[{KSAMPLER!r}]")
    assert seen["progress"], "the KSampler never showed a progress bar"
    assert max(seen["progress"]) >= 1, seen
    assert seen["previews"], "the KSampler never showed a live preview image"
    # The preview goes when the node finishes; SaveImage ends with the decoded 128x128 image.
    expect(node(page, KSAMPLER).locator("img.fy-node-preview")).to_have_count(0)
    image = node(page, SAVE).locator("img[src*='/outputs/']").first
    expect(image).to_be_visible(timeout=15_000)
    page.wait_for_function(
        "(img) => img.complete && img.naturalWidth === 128 && img.naturalHeight === 128",
        arg=image.element_handle(),
        timeout=15_000,
    )
    # The run itself succeeded (the sidebar's active run).
    expect(page.get_by_role("complementary", name="Runs")).to_contain_text("succeeded")
    # The screenshot: the import notes dismissed, the run sidebar folded, the whole graph in view.
    page.get_by_role("button", name="Dismiss import notes").click()
    page.get_by_role("button", name="Runs ▸").click()
    page.get_by_role("button", name="Fit view", exact=True).click()
    page.wait_for_timeout(400)  # the fit view's animation
    shoot(page, "editor-txt2img.png")
    no_page_errors(me)


def test_a_checkpoint_missing_from_the_library_is_marked_and_refused(
    models_person: Callable[[], Session],
) -> None:
    me = models_person()
    me.signup(unique("nockpt"))
    imported = me.api("POST", "/api/import/comfy", json.loads(Path(str(DEFAULT_TEMPLATE)).read_text()))
    doc = imported["document"]
    doc["graph"]["nodes"][CHECKPOINT]["inputs"]["ckpt_name"] = "not-in-the-library.safetensors"
    wf = new_workflow(me, "Missing checkpoint", doc)
    page = me.page
    page.goto(f"/workflows/{wf['id']}")
    loader = node(page, CHECKPOINT)
    picker = loader.get_by_label("ckpt_name", exact=True)
    # The value is kept and marked missing; the library's file is still offered.
    expect(picker).to_have_value("not-in-the-library.safetensors")
    expect(picker.locator("option:checked")).to_have_text("not-in-the-library.safetensors (missing)")
    expect(picker.locator("option", has_text=TEMPLATE_CHECKPOINT)).to_have_count(1)
    expect(loader.locator(".fy-field-error")).to_have_text("Not in the checkpoints folder of any worker.")

    run_with_keyboard(page)
    toast = page.locator(".fy-toast-error")
    expect(toast).to_contain_text("The graph cannot run: 1 node has problems")
    # The message names the node and its input; the loader's ckpt_name is marked with it; nothing was queued.
    expect(toast).to_contain_text(f"node {CHECKPOINT}.ckpt_name: 'not-in-the-library.safetensors' is not in")
    issue = loader.locator(".fy-input-issue")
    expect(issue).to_have_count(1)
    expect(issue).to_contain_text("not-in-the-library.safetensors")
    expect(issue).to_contain_text("checkpoints")
    expect(loader).to_have_class(re.compile("run-invalid"))
    expect(page.locator(".react-flow__node .run-invalid")).to_have_count(1)
    assert not me.api("GET", f"/api/runs?workflow={wf['id']}")["results"]
    no_page_errors(me)


def test_convert_open_and_run_a_subgraph(models_person: Callable[[], Session]) -> None:
    me = models_person()
    me.signup(unique("nester"))
    wf = new_workflow(me, "Nested blur", IMAGE_DOC)
    page = me.page
    page.goto(f"/workflows/{wf['id']}")
    expect(page.locator(".react-flow__node")).to_have_count(3)

    # Select EmptyImage and Blur Image (click, Ctrl+click), convert them; the prompt asks for a name.
    node(page, "1").locator(".fy-node-title").click()
    node(page, "2").locator(".fy-node-title").click(modifiers=["Control"])
    expect(page.locator(".react-flow__node.selected")).to_have_count(2)
    page.once("dialog", lambda d: d.accept("Blurred source"))
    page.get_by_role("button", name="Convert to subgraph").click()
    expect(page.locator(".react-flow__node")).to_have_count(2)
    instance = page.locator(
        ".react-flow__node", has=page.locator(".fy-node-title", has_text="Blurred source")
    )
    expect(instance).to_have_count(1)
    expect(node(page, "3")).to_be_visible()
    expect(page.locator(".react-flow__edge")).to_have_count(1)

    # Double-click opens it: the inner nodes, the boundary Outputs node and the breadcrumb.
    instance.locator(".fy-node-body").dblclick()
    breadcrumb = page.get_by_role("navigation", name="Subgraph")
    expect(breadcrumb).to_contain_text("Blurred source")
    titles = page.locator(".react-flow__node .fy-node-title")
    expect(titles.filter(has_text="Empty Image")).to_have_count(1)
    expect(titles.filter(has_text="Blur Image")).to_have_count(1)
    expect(titles.filter(has_text="Preview Image")).to_have_count(0)
    expect(titles.filter(has_text="Outputs")).to_have_count(1)
    shoot(page, "editor-subgraph.png")

    # Back out through the breadcrumb, run the whole workflow: the instance shows its inner nodes' success.
    breadcrumb.get_by_role("button", name="Workflow").click()
    expect(breadcrumb).to_have_count(0)
    expect(page.locator(".react-flow__node")).to_have_count(2)
    run_with_keyboard(page)
    wait_all_succeeded(page, timeout=30_000)
    expect(instance.locator(".fy-node")).to_have_class(re.compile("run-succeeded"))
    image = node(page, "3").locator("img[src*='/outputs/']").first
    expect(image).to_be_visible(timeout=15_000)
    page.wait_for_function(
        "(img) => img.complete && img.naturalWidth === 64", arg=image.element_handle(), timeout=15_000
    )
    no_page_errors(me)


VIDEO_DOC = {
    "graph": {
        "nodes": {
            "1": {
                "type": "EmptyImage",
                "inputs": {"width": 64, "height": 48, "batch_size": 4, "color": 0xFF0000},
            },
            "2": {
                "type": "EmptyImage",
                "inputs": {"width": 64, "height": 48, "batch_size": 4, "color": 0x0000FF},
            },
            "3": {"type": "ImageBatch", "inputs": {"image1": ["1", 0], "image2": ["2", 0]}},
            "4": {"type": "CreateVideo", "inputs": {"images": ["3", 0], "fps": 8.0}},
            "5": {
                "type": "SaveVideo",
                "inputs": {
                    "video": ["4", 0],
                    "filename_prefix": "video/e2e",
                    "format": "auto",
                    "codec": "auto",
                },
            },
        }
    },
    "layout": {
        "nodes": {
            "1": {"x": 0, "y": 0},
            "2": {"x": 0, "y": 260},
            "3": {"x": 300, "y": 100},
            "4": {"x": 560, "y": 100},
            "5": {"x": 820, "y": 100},
        },
        "groups": [],
    },
}

# Resolves once the <video> has loaded its metadata (readyState >= 1) or failed; its duration and size.
VIDEO_STATE = """async (video) => {
  if (video.readyState < 1 && !video.error) {
    await new Promise((resolve) => {
      video.addEventListener('loadedmetadata', resolve, { once: true });
      video.addEventListener('error', resolve, { once: true });
      setTimeout(resolve, 10000);
    });
  }
  return { readyState: video.readyState, duration: video.duration, width: video.videoWidth,
           height: video.videoHeight, error: video.error && video.error.code, src: video.currentSrc };
}"""


def test_a_saved_video_plays_in_the_node_and_the_gallery(models_person: Callable[[], Session]) -> None:
    me = models_person()
    me.signup(unique("director"))
    wf = new_workflow(me, "Two-colour clip", VIDEO_DOC)
    page = me.page
    page.goto(f"/workflows/{wf['id']}")
    expect(page.locator(".react-flow__node")).to_have_count(5)
    page.get_by_role("button", name="▶ Run").click()
    wait_all_succeeded(page, timeout=30_000)

    video = node(page, "5").locator("video")
    expect(video).to_have_count(1, timeout=15_000)
    expect(video).to_have_attribute("src", re.compile("/outputs/"))
    state = video.evaluate(VIDEO_STATE)
    assert state["error"] is None, state
    assert state["readyState"] >= 1, state
    # 8 frames at 8 fps: one second of 64x48 video.
    assert abs(state["duration"] - 1.0) < 0.2, state
    assert (state["width"], state["height"]) == (64, 48), state

    # The sidebar's gallery shows the same output as a player.
    gallery = page.get_by_role("region", name="Gallery").locator("video")
    expect(gallery.first).to_be_visible(timeout=15_000)
    assert gallery.first.evaluate(VIDEO_STATE)["readyState"] >= 1
    no_page_errors(me)
