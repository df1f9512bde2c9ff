"""What each install installs (scripts/install-python.sh exports uv.lock the same way): `make run` gets the runtime
only, without test tools or torch; `make test` and `make bench` get the dev extra, with both."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).with_name("uv")


def locked(*extras: str) -> set[str]:
    """The package names uv.lock installs for these extras (none: the runtime), as the install script asks."""
    args = [str(UV), "export", "--frozen", "--no-emit-project", "--no-hashes", "--format", "requirements-txt"]
    for extra in extras:
        args += ["--extra", extra]
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return {m.group(1).lower() for m in re.finditer(r"(?m)^([A-Za-z0-9][A-Za-z0-9._-]*)==", out)}


@pytest.fixture(scope="module")
def runtime() -> set[str]:
    if not UV.exists():
        pytest.fail(f"uv is a runtime dependency but is missing next to {sys.executable}")
    return locked()


def test_the_runtime_serves_the_product_and_its_offline_api_docs(runtime):
    assert {"django", "uvicorn", "drf-spectacular", "drf-spectacular-sidecar", "uv"} <= runtime


def test_the_runtime_holds_no_test_tools_and_no_torch(runtime):
    assert runtime.isdisjoint(
        {"pytest", "mypy", "ruff", "playwright", "moto", "torch", "diffusers", "datasets"}
    )


def test_the_dev_extra_holds_the_test_tools_and_the_models_extra(runtime):
    dev = locked("dev")
    assert runtime < dev
    assert {"pytest", "mypy", "ruff", "playwright", "torch", "diffusers", "transformers"} <= dev
    assert {"torch", "diffusers", "transformers"} <= locked("models")
