"""Which of ComfyUI's official workflow templates Flowyard can run node for node.

For every UI-format workflow in the installed ``comfyui-workflow-templates-json`` package: import it as the
``/api/import/comfy`` endpoint does, flatten its subgraphs as a run does, and look every node type up in the
registry of Flowyard's built-in packs. Prints one JSON line per template ``{name, ok, missing: [types]}``
(``error`` when the import or flattening failed) and then ``{"summary": {total, all_known, with_subgraphs,
errors, missing_types_by_count}}``.

    .venv/bin/python scripts/comfy_templates_report.py [--templates DIR] [--packs nodepacks.core,...]
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from backend.compat.workflows import import_comfy  # noqa: E402 - after the path fix above
from workers.engine import GraphFormatError, NodeRegistry  # noqa: E402
from workers.engine.registry import load_pack  # noqa: E402
from workers.engine.subgraphs import flatten  # noqa: E402

NOT_PACKS = {"sdk"}


def builtin_pack_modules() -> list[str]:
    """Every built-in pack under ``nodepacks/`` that loads (the diffusion, video and audio packs included)."""
    import nodepacks

    modules = []
    for info in pkgutil.iter_modules(nodepacks.__path__):
        if not info.ispkg or info.name in NOT_PACKS:
            continue
        name = f"nodepacks.{info.name}"
        try:
            load_pack(name)
        except Exception as exc:  # a pack being written right now must not stop the report
            print(f"skipping {name}: {exc}", file=sys.stderr)
            continue
        modules.append(name)
    return modules


def templates_dir() -> Path:
    """The installed templates package's ``templates`` folder."""
    package = importlib.import_module("comfyui_workflow_templates_json")
    return Path(str(package.__file__)).resolve().parent / "templates"


def ui_workflows(folder: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(name, workflow)`` of every UI-format workflow file (index and option files are skipped)."""
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and isinstance(data.get("nodes"), list):
            yield path.stem, data


def check(name: str, workflow: dict[str, Any], registry: NodeRegistry) -> dict[str, Any]:
    """One template's line: ``{name, ok, missing, subgraphs}`` plus ``error`` when it cannot be imported."""
    definitions = (workflow.get("definitions") or {}).get("subgraphs") or []
    line: dict[str, Any] = {"name": name, "ok": False, "missing": [], "subgraphs": len(definitions)}
    try:
        document = import_comfy(workflow, registry)["document"]
        flat = flatten(document["graph"])
    except (GraphFormatError, ValueError, TypeError, KeyError) as exc:
        line["error"] = f"{type(exc).__name__}: {exc}"
        return line
    types = {node["type"] for node in flat["nodes"].values()}
    line["missing"] = sorted(node_type for node_type in types if node_type not in registry)
    line["ok"] = not line["missing"]
    return line


def report(folder: Path, registry: NodeRegistry) -> Iterator[dict[str, Any]]:
    """Every template's line, then the summary line."""
    lines = []
    for name, workflow in ui_workflows(folder):
        line = check(name, workflow, registry)
        lines.append(line)
        yield line
    yield {"summary": summarize(lines)}


def summarize(lines: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """``{total, all_known, with_subgraphs, errors, missing_types_by_count}`` (types by how many templates
    lack them, most first)."""
    lines = list(lines)
    counts = Counter(node_type for line in lines for node_type in line["missing"])
    return {
        "total": len(lines),
        "all_known": sum(1 for line in lines if line["ok"]),
        "with_subgraphs": sum(1 for line in lines if line["subgraphs"]),
        "errors": sum(1 for line in lines if "error" in line),
        "missing_types_by_count": dict(sorted(counts.items(), key=lambda item: (-item[1], item[0]))),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--templates", type=Path, help="folder of template JSON files (default: installed)")
    parser.add_argument("--packs", help="comma-separated pack modules (default: every built-in pack)")
    args = parser.parse_args(argv)
    modules = args.packs.split(",") if args.packs else builtin_pack_modules()
    registry = NodeRegistry.from_modules(modules)
    for line in report(args.templates or templates_dir(), registry):
        print(json.dumps(line, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
