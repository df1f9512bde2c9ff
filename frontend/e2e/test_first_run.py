"""The first-run story in Chromium: a new person on a fresh installation signs up, picks a built-in template,
runs it and sees the output, all without typing a node name; opening a shipped example file from the home
page; and exporting a workflow as a Python script and an SVG picture from the editor's File menu."""

from __future__ import annotations

import ast
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from conftest import PASSWORD, Session, run_server, unique

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def fresh_server() -> Iterator[str]:
    """An installation of its own: the person signing up here is its very first user."""
    with run_server() as base:
        yield base


@pytest.fixture
def newcomer(browser, fresh_server: str) -> Iterator[Session]:
    me = Session(browser, fresh_server)
    yield me
    me.close()
    assert not me.csp_violations()


def boxes_overlap(page: Page) -> list[tuple[str, str]]:
    """Pairs of graph nodes whose boxes overlap on the canvas."""
    return page.evaluate(
        """() => {
             const boxes = [...document.querySelectorAll('.react-flow__node')]
               .filter((n) => n.querySelector('.fy-node-title'))
               .map((n) => [n.dataset.id, n.getBoundingClientRect()]);
             const hits = [];
             for (let i = 0; i < boxes.length; i++)
               for (let j = i + 1; j < boxes.length; j++) {
                 const [a, r] = boxes[i], [b, s] = boxes[j];
                 if (r.left < s.right && s.left < r.right && r.top < s.bottom && s.top < r.bottom) hits.push([a, b]);
               }
             return hits;
           }"""
    )


def test_a_newcomer_signs_up_runs_a_built_in_template_and_sees_its_output(newcomer: Session) -> None:
    page = newcomer.page
    page.goto("/")
    page.wait_for_url("**/login*")
    page.get_by_role("link", name="Create one").click()
    page.fill("input[name=username]", unique("first"))
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Create account").click()

    # The empty home page offers the built-in templates, each with a picture of its graph.
    expect(page.get_by_role("heading", name="No workflows yet")).to_be_visible()
    gallery = page.get_by_role("list", name="Built-in templates")
    expect(gallery.get_by_role("listitem")).to_have_count(4)
    for name in ("Text pipeline", "Image pipeline", "Branching"):
        expect(
            gallery.get_by_role("listitem", name=f"Template {name}").locator(".fy-builtin-missing")
        ).to_have_count(0)
    # No checkpoint on this server: the text-to-image template is shown, marked as needing one.
    txt2img = gallery.get_by_role("listitem", name="Template Text to image (Stable Diffusion)")
    expect(txt2img.locator(".fy-builtin-missing")).to_contain_text("checkpoints/")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.fy-builtin img')].every((i) => i.complete && i.naturalWidth > 0)"
    )

    # Use the image pipeline: it opens saved, laid out, with LoadImage's sample photo uploaded.
    gallery.get_by_role("listitem", name="Template Image pipeline").get_by_role(
        "button", name="Use template"
    ).click()
    page.wait_for_url(re.compile(r".*/workflows/\d+$"))
    expect(page.locator(".fy-version")).to_have_text("v1")
    expect(page.locator(".react-flow__node .fy-node-title")).to_have_count(10)
    expect(page.locator(".fy-note")).to_have_count(1)
    assert boxes_overlap(page) == []
    load = page.locator(".react-flow__node", has=page.locator(".fy-node-title", has_text="Load Image"))
    expect(load.locator(".fy-field-error")).to_have_count(0)

    # Run it with the header's Run button and see the output image in the preview node.
    page.get_by_role("button", name="▶ Run").click()
    expect(page.locator(".fy-notification", has_text="succeeded")).to_be_visible(timeout=60_000)
    image = page.locator(".react-flow__node img[src*='/outputs/']").first
    expect(image).to_be_visible(timeout=30_000)
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle())

    # Back home: the workflow is listed and the gallery moved to the side.
    page.get_by_role("link", name="← Workflows").click()
    expect(page.get_by_role("link", name="Image pipeline")).to_be_visible()
    expect(page.get_by_role("heading", name="Start from a template")).to_be_visible()
    assert not [e for e in newcomer.errors if "pageerror" in e], newcomer.errors


def test_a_shipped_example_file_opens_from_the_home_page_laid_out(newcomer: Session) -> None:
    newcomer.signup(unique("opener"))
    page = newcomer.page
    page.goto("/")
    page.get_by_label("Graph file to open").set_input_files(str(EXAMPLES / "branching.json"))
    page.wait_for_url("**/workflows/new")
    expect(page.get_by_role("status", name="Import notes")).to_contain_text(
        "Imported 10 nodes from branching.json"
    )
    expect(page.locator(".react-flow__node .fy-node-title")).to_have_count(10)
    assert boxes_overlap(page) == []
    # A ComfyUI API prompt opens through the same button (laid out by the ComfyUI import).
    page.goto("/")
    page.get_by_label("Graph file to open").set_input_files(str(EXAMPLES / "txt2img.json"))
    page.wait_for_url("**/workflows/new")
    expect(page.locator(".react-flow__node .fy-node-title")).to_have_count(7)


def test_the_file_menu_exports_a_python_script_and_an_svg_picture(newcomer: Session) -> None:
    user = newcomer.signup(unique("exporter"))
    created = newcomer.api(
        "POST", "/api/templates/builtin/text-pipeline/use", {"workspace": user["personal_workspace"]["id"]}
    )
    page = newcomer.page
    page.goto(f"/workflows/{created['id']}")
    expect(page.locator(".react-flow__node .fy-node-title")).to_have_count(9)
    files = {}
    for label in ("Export as Python script", "Export as SVG picture"):
        page.get_by_role("button", name="File").click()
        with page.expect_download() as download:
            page.get_by_role("group", name="Export as code or picture").get_by_role(
                "button", name=label
            ).click()
        files[label] = Path(download.value.path()).read_text()
        assert download.value.suggested_filename.startswith("text_pipeline_v1.")
    ast.parse(files["Export as Python script"])  # valid Python
    assert 'g.node("TextSplit", "split"' in files["Export as Python script"]
    svg = ET.fromstring(files["Export as SVG picture"])
    assert len([g for g in svg.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "node"]) == 9


def test_new_from_template_in_the_editor_opens_the_gallery_and_the_copy(newcomer: Session) -> None:
    newcomer.signup(unique("editor"))
    page = newcomer.page
    page.goto("/workflows/new")
    expect(page.locator(".fy-palette")).to_be_visible()
    page.get_by_role("button", name="File").click()
    page.get_by_role("button", name="New from template").click()
    dialog = page.get_by_role("dialog", name="New from template")
    expect(dialog.get_by_role("listitem")).to_have_count(4)
    dialog.get_by_role("listitem", name="Template Branching").get_by_role(
        "button", name="Use template"
    ).click()
    page.wait_for_url(re.compile(r".*/workflows/\d+$"))
    expect(dialog).to_have_count(0)
    expect(page.locator(".react-flow__node .fy-node-title")).to_have_count(10)
    expect(page.locator("h1")).to_have_text("Branching")
