"""Rules for every test run: in CI (``CI=true``) a skipped test is a failure.

A test skips where this machine lacks something it needs (bubblewrap, a browser, a service). Locally that
is a fair answer; in CI it would hide that the sandbox, the browser or a service was never tested, so the
skip becomes a failure that names what was missing.
"""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in CI (CI=true), which must run every test: {reason}"
