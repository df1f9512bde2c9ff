"""Import a pack in a clean, resource-limited interpreter and collect its node schemas."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

import nodepacks.sdk
from nodepacks.sdk.manifest import Manifest
from workers.packs.limits import Limits
from workers.packs.report import Problem
from workers.packs.sandbox import clean_env, run_limited

PROBE = Path(__file__).with_name("probe.py")
SDK_DIR = Path(nodepacks.sdk.__file__).resolve().parent
PROJECT_ROOT = SDK_DIR.parent.parent


class _ProbeError(BaseModel):
    code: str
    message: str
    node: str | None = None
    field: str | None = None


class _ProbeReport(BaseModel):
    errors: list[_ProbeError]
    nodes: list[dict[str, Any]]


def check_import(
    location: Path, manifest: Manifest, limits: Limits, cwd: Path
) -> tuple[list[Problem], list[dict[str, Any]]]:
    """Import ``manifest.entry`` from ``location`` (a pack folder or a .zip); return (problems, node schemas)."""
    args = {
        "location": str(location.resolve()),
        "entry": manifest.entry,
        "name": manifest.name,
        "version": manifest.version,
        "sdk_api": manifest.sdk_api,
        "sdk_dir": str(SDK_DIR),
        "hide": [str(PROJECT_ROOT)],
    }
    result = run_limited(
        [sys.executable, "-I", "-B", str(PROBE), json.dumps(args)],
        cpu_seconds=limits.import_cpu_seconds,
        memory_bytes=limits.import_memory_bytes,
        wall_seconds=limits.import_wall_seconds,
        cwd=cwd,
        env=clean_env(),
    )
    death = result.death(limits.import_cpu_seconds, limits.import_memory_bytes, limits.import_wall_seconds)
    stderr_tail = result.stderr.decode("utf-8", "replace").strip()[-1500:]
    if death:
        code = "import-timeout" if result.timed_out or result.returncode < 0 else "import-failed"
        message = f"importing {manifest.entry} {death}"
        return [Problem(code=code, message=message, file=manifest.entry_files[0])], []
    try:
        report = _ProbeReport.model_validate_json(result.stdout)
    except ValidationError:
        message = f"importing {manifest.entry} gave no report (exit code {result.returncode}): {stderr_tail}"
        return [Problem(code="import-failed", message=message, file=manifest.entry_files[0])], []
    problems = []
    for error in report.errors:
        where = ", ".join(
            part
            for part in (error.node and f"node {error.node}", error.field and f"field {error.field!r}")
            if part
        )
        problems.append(
            Problem(
                code=error.code,
                message=f"{where}: {error.message}" if where else error.message,
                file=manifest.entry_files[0] if error.code in ("import-failed", "no-pack") else None,
                node=error.node,
                field=error.field,
            )
        )
    return problems, report.nodes
