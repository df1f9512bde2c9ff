"""Automation in a real browser (docs/webhooks.md): an editor adds a webhook and a trigger URL from the workflow's
Automation panel, fires the trigger with its secret from outside, the run's end reaches a local receiver as a
signed request, the delivery shows in the panel and is redelivered with the same webhook-id; a schedule shows its
next runs and is paused."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from backend.automation.signing import verify
from conftest import IMAGE_DOC, Session, run_server, unique


class Receiver:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.requests.append({"headers": dict(self.headers.items()), "body": body})
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture(scope="module")
def automation_server() -> Iterator[str]:
    # The receiver runs on this machine: its loopback address is allowed, nothing else private.
    with run_server(
        {"FLOWYARD_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32", "FLOWYARD_AUTOMATION_TICK_SECONDS": "1"}
    ) as base:
        yield base


@pytest.fixture
def editor(browser, automation_server) -> Iterator[Session]:
    session = Session(browser, automation_server)
    yield session
    session.close()
    assert not session.csp_violations()


def wait_for(condition, timeout: float = 30.0):
    import time

    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return value


def test_webhook_trigger_and_schedule_from_the_automation_panel(editor: Session, automation_server: str):
    receiver = Receiver()
    editor.signup(unique("auto"))
    team = editor.api("POST", "/api/teams", {"name": unique("Automation ")})
    wf = editor.api("POST", "/api/workflows", {"workspace": team["id"], "name": "Blur", **IMAGE_DOC})

    page = editor.page
    page.goto(f"/workflows/{wf['id']}")
    page.get_by_role("button", name="Automation", exact=True).click()
    panel = page.get_by_role("complementary", name="Automation")

    # A webhook for finished runs; its secret is shown once.
    hooks = panel.get_by_role("region", name="Webhooks")
    hooks.get_by_label("Endpoint URL").fill(receiver.url)
    hooks.get_by_role("button", name="Add webhook").click()
    secret = hooks.locator(".fy-automation-secret code").inner_text()
    assert secret.startswith("whsec_")
    expect(hooks.locator("[data-webhook]")).to_have_count(1)

    # A trigger URL with a mapping; the curl example carries its secret.
    panel.get_by_role("tab", name="Triggers").click()
    triggers = panel.get_by_role("region", name="Triggers")
    triggers.get_by_label("Mapping").fill("radius = 2.blur_radius")
    triggers.get_by_role("button", name="Add trigger").click()
    trigger_secret = triggers.locator(".fy-automation-secret code").inner_text()
    trigger = editor.api("GET", f"/api/workflows/{wf['id']}/triggers")[0]
    assert trigger["mapping"] == {"radius": "2.blur_radius"}

    # Called from outside with the secret: a run starts as the editor, and its end reaches the receiver signed.
    fired = httpx.post(
        f"{automation_server}/api/triggers/{trigger['id']}",
        json={"radius": 3},
        headers={"X-Trigger-Secret": trigger_secret},
        timeout=30,
    )
    assert fired.status_code == 201, fired.text
    wait_for(lambda: receiver.requests)
    first = receiver.requests[0]
    headers = {k.lower(): v for k, v in first["headers"].items()}
    assert verify(secret, headers, first["body"])
    payload = json.loads(first["body"])
    assert payload["type"] == "run.finished" and payload["data"]["run"]["id"] == fired.json()["run"]

    # The delivery and its attempt in the panel; Redeliver sends it again under the same webhook-id.
    panel.get_by_role("tab", name="Webhooks").click()
    hooks.get_by_role("button", name="Deliveries").click()
    delivery = hooks.locator("[data-delivery]").first
    expect(delivery.locator("summary")).to_contain_text("succeeded")
    delivery.locator("summary").click()
    delivery.get_by_role("button", name="Redeliver").click()
    wait_for(lambda: len(receiver.requests) == 2)
    ids = {{k.lower(): v for k, v in r["headers"].items()}["webhook-id"] for r in receiver.requests}
    assert len(ids) == 1

    # A schedule: the next runs are previewed before saving, then it is paused.
    panel.get_by_role("tab", name="Schedules").click()
    schedules = panel.get_by_role("region", name="Schedules")
    schedules.get_by_label("Cron").fill("*/5 * * * *")
    schedules.get_by_label("Time zone").fill("Europe/Berlin")
    expect(schedules.get_by_label("Next runs")).to_contain_text("Next:")
    schedules.get_by_role("button", name="Add schedule").click()
    item = schedules.locator("[data-schedule]")
    expect(item).to_contain_text("active")
    expect(item.locator(".fy-next-runs li")).to_have_count(3)
    item.get_by_role("button", name="Pause").click()
    expect(item).to_contain_text("paused")
    assert editor.api("GET", f"/api/workflows/{wf['id']}/schedules")[0]["paused"] is True
    receiver.server.shutdown()
