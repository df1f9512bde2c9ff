"""What the ``flowyard`` commands do: load graphs and packs, run and validate them, print and save results.

``workers.cli`` is only the entry point (the argument parser and ``main``); this module and ``workers.cli.pack`` /
``workers.cli.models`` hold the commands, and the helpers they share live here, so they never import the entry
point back.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import runpy
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from nodepacks.sdk import Pack
from workers.engine import Engine, Event, Graph, MemoryCache, NodeRegistry, validate_graph
from workers.engine.graph import GraphError, Link, parse_graph
from workers.engine.registry import DEFAULT_PACK_MODULES, load_pack
from workers.runtime.files import LocalFiles
from workers.runtime.media import frame_to_png, image_frames
from workers.runtime.model_library import ModelLibrary
from workers.runtime.models import ModelManager

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


class CliError(Exception):
    """A problem with the command line or its files; printed without a traceback."""


def load_graph_script(path: Path) -> Any:
    """Run a Python graph script (an exported workflow, ``workers.export.script``) and answer its ``graph``."""
    if not path.is_file():
        raise CliError(f"{path}: no such file")
    try:
        namespace = runpy.run_path(str(path), run_name="flowyard_graph_script")
    except Exception as exc:  # the script's own error, shown as one line like any other bad input
        raise CliError(f"{path}: the script failed: {type(exc).__name__}: {exc}") from None
    graph = namespace.get("graph")
    if graph is None:
        raise CliError(f"{path}: the script defines no 'graph' (graph JSON, e.g. GraphBuilder().build())")
    return graph


def load_graph_file(path: Path) -> Graph:
    """Read a graph (or a saved workflow document ``{"graph", "layout"}``) from a JSON file, or the ``graph``
    a Python script (``.py``) builds."""
    if path.suffix == ".py":
        return parse_graph(load_graph_script(path))
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise CliError(f"{path}: no such file") from None
    except json.JSONDecodeError as exc:
        raise CliError(f"{path}: not valid JSON ({exc})") from None
    if isinstance(data, dict) and isinstance(data.get("graph"), dict):
        data = data["graph"]
    return parse_graph(data)


def parse_assignment(text: str) -> tuple[str, str, Any]:
    """Parse ``NODE.INPUT=VALUE``; the value is JSON when it parses as JSON, else a plain string."""
    target, sep, raw = text.partition("=")
    node, dot, name = target.rpartition(".")
    if not sep or not dot or not node or not name:
        raise CliError(f"--set {text!r}: expected NODE.INPUT=VALUE")
    try:
        value: Any = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return node, name, value


def apply_assignments(graph: Graph, assignments: Sequence[str]) -> None:
    """Set constant inputs from ``--set`` options; a link there is replaced by the constant."""
    for text in assignments:
        node_id, name, value = parse_assignment(text)
        node = graph.nodes.get(node_id)
        if node is None:
            raise CliError(f"--set {text!r}: the graph has no node {node_id!r}")
        if (
            isinstance(value, list)
            and len(value) == 2
            and isinstance(value[0], str)
            and isinstance(value[1], int)
        ):
            value = Link(value[0], value[1])
        node.inputs[name] = value


def format_error(error: GraphError, graph: Graph | None = None) -> str:
    """One line naming the node (and its type), the input and the reason."""
    parts = []
    if error.node is not None:
        node = graph.nodes.get(error.node) if graph else None
        parts.append(f"node {error.node}" + (f" ({node.type})" if node else ""))
    if error.input is not None:
        parts.append(f"input {error.input!r}")
    where = ", ".join(parts)
    return f"{where}: {error.message}" if where else error.message


def load_pack_argument(value: str) -> Pack:
    """Load a pack from a module name, a package directory or a ``.py`` file (the pack development loop)."""
    path = Path(value)
    if not path.exists():
        return load_pack(value)
    init = path / "__init__.py" if path.is_dir() else path
    if not init.is_file():
        raise CliError(f"--pack {value}: no __init__.py in that directory")
    module_name = f"flowyard_local_pack_{path.resolve().stem if path.is_file() else path.resolve().name}"
    locations = [str(path.resolve())] if path.is_dir() else None
    spec = importlib.util.spec_from_file_location(module_name, init, submodule_search_locations=locations)
    if spec is None or spec.loader is None:
        raise CliError(f"--pack {value}: cannot import")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    pack = getattr(module, "pack", None)
    if not isinstance(pack, Pack):
        raise CliError(f"--pack {value}: defines no 'pack = Pack(...)'")
    return pack


def build_registry(extra_packs: Sequence[str]) -> NodeRegistry:
    """The built-in packs plus any given with ``--pack``."""
    packs = [load_pack(module) for module in DEFAULT_PACK_MODULES]
    return NodeRegistry([*packs, *(load_pack_argument(value) for value in extra_packs)])


class ProgressPrinter:
    """Prints one line per finished node and a live progress line on terminals."""

    def __init__(self, graph: Graph, stream: TextIO, quiet: bool = False) -> None:
        self.graph = graph
        self.stream = stream
        self.quiet = quiet
        self.tty = stream.isatty()
        self.total = 0
        self.done = 0

    def __call__(self, event: Event) -> None:
        if self.quiet:
            return
        data = event.data
        if event.type == "run_started":
            self.total = len(data["nodes"])
            self._line(f"running {self.total} node(s)")
        elif event.type == "nodes_cached":
            self.done += len(data["nodes"])
            self._line(f"{len(data['nodes'])} node(s) from cache")
        elif event.type == "progress" and self.tty:
            maximum = data.get("max")
            share = f"{100 * data['value'] / maximum:3.0f}%" if maximum else f"{data['value']:g}"
            self.stream.write(f"\r  ... node {event.node} {share}")
            self.stream.flush()
        elif event.type == "node_finished" and not data.get("cached"):
            self.done += 1
            outputs = ", ".join(o["summary"] for o in data.get("outputs", []))
            self._line(
                f"[{self.done}/{self.total}] ok   {event.node} {data['type']} {data['duration']:.3f}s"
                + (f"  -> {outputs}" if outputs else "")
            )
        elif event.type == "node_failed":
            self.done += 1
            self._line(f"[{self.done}/{self.total}] FAIL {event.node} {data['type']}: {data['error']}")
        elif event.type == "nodes_skipped":
            self._line(f"skipped {len(data['nodes'])} node(s): {data['reason']}")
        elif event.type == "run_finished":
            self._line(
                f"{data['status']} in {data['duration']:.3f}s "
                f"({data['executed']} executed, {data['cached']} cached)"
            )

    def _line(self, text: str) -> None:
        prefix = "\r\033[K" if self.tty else ""
        self.stream.write(f"{prefix}{text}\n")
        self.stream.flush()


def _extension(file_format: str) -> str:
    """A file format as a safe extension: ASCII letters and digits only (``bin`` when none are left)."""
    return "".join(ch for ch in file_format if ch.isascii() and ch.isalnum())[:16].lower() or "bin"


def _output_path(out_dir: Path, prefix: str, node_id: str, index: int, extension: str) -> Path:
    """``out_dir/<prefix>_<node>_<index>.<ext>``; a prefix with folders (``video/ComfyUI``) makes them, one that
    would leave ``out_dir`` keeps only its last part."""
    root = out_dir.resolve()
    path = out_dir / f"{prefix}_{node_id}_{index:03d}.{extension}"
    if not path.resolve().is_relative_to(root):
        path = out_dir / f"{Path(prefix).name or 'output'}_{node_id}_{index:03d}.{extension}"
    if not path.resolve().is_relative_to(root):  # a node id with slashes
        path = out_dir / f"output_{index:03d}.{extension}"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def write_outputs(result_ui: dict[str, Any], out_dir: Path, stream: TextIO) -> list[Path]:
    """Save every image a node showed as PNG and every encoded file (video, audio, animated WebP...) as it is
    under ``out_dir``, and print its text; return the files. Files are numbered per extension and node."""
    written: list[Path] = []
    for node_id, ui in result_ui.items():
        for text in ui.text:
            stream.write(f"{node_id}: {text}\n")
        prefix = ui.filename_prefix if ui.saved else "preview"
        counts: dict[str, int] = {}
        for batch in ui.images:
            for frame in image_frames(batch):
                path = _output_path(out_dir, prefix, node_id, counts.get("png", 0), "png")
                counts["png"] = counts.get("png", 0) + 1
                path.write_bytes(frame_to_png(frame))
                written.append(path)
        for file in ui.files:
            extension = _extension(file.format)
            path = _output_path(out_dir, prefix, node_id, counts.get(extension, 0), extension)
            counts[extension] = counts.get(extension, 0) + 1
            path.write_bytes(file.data)
            written.append(path)
    return written


def pack_hints(errors: Sequence[GraphError], graph: Graph, graph_path: Path) -> list[str]:
    """``--pack`` suggestions for unknown node types whose pack folder sits next to the graph file.

    ``vignette.Vignette`` unknown and ``examples/packs/vignette/`` beside ``examples/vignette.json``: the user
    most likely forgot ``--pack examples/packs/vignette``.
    """
    hints: list[str] = []
    base = graph_path.parent
    for error in errors:
        node = graph.nodes.get(error.node or "")
        if error.code != "unknown_node_type" or node is None or "." not in node.type:
            continue
        name = node.type.split(".", 1)[0]
        for folder in (base / "packs" / name, base / name, base.parent / "packs" / name):
            if (folder / "__init__.py").is_file() or (folder / "flowyard.toml").is_file():
                hint = f"hint: {node.type} may come from the pack in {folder}: add --pack {folder}"
                if hint not in hints:
                    hints.append(hint)
                break
    return hints


def cmd_run(args: argparse.Namespace) -> int:
    graph_path = Path(args.graph)
    graph = load_graph_file(graph_path)
    apply_assignments(graph, args.set or [])
    registry = build_registry(args.pack or [])
    files = LocalFiles([graph_path.resolve().parent, Path.cwd()])
    errors = validate_graph(graph, registry)
    if errors:
        for error in errors:
            print(f"error: {format_error(error, graph)}", file=sys.stderr)
        for hint in pack_hints(errors, graph, graph_path):
            print(hint, file=sys.stderr)
        return EXIT_INVALID
    models_dir = getattr(args, "models", None)  # `flowyard pack run` builds its own namespace
    library = (
        ModelLibrary([Path(models_dir)], extra_paths=getattr(args, "extra_model_paths", None) or [])
        if models_dir
        else ModelLibrary.from_env()
    )
    models = ModelManager.from_env(library=library)
    engine = Engine(registry, MemoryCache(), parallelism=args.parallelism, files=files, models=models)
    cancel = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: cancel.set())
    try:
        result = engine.run(
            graph,
            outputs=args.output or None,
            on_event=ProgressPrinter(graph, sys.stderr, args.quiet),
            cancel=cancel,
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    written = write_outputs(result.ui, Path(args.out), sys.stdout)
    for path in written:
        print(f"wrote {path}", file=sys.stderr)
    if args.json:
        print(
            json.dumps(
                {
                    "status": result.status,
                    "executed": result.executed,
                    "cached": result.cached,
                    "failed": result.failed,
                    "files": [str(p) for p in written],
                    "errors": [e.to_json() for e in result.errors],
                }
            )
        )
    return EXIT_OK if result.status == "succeeded" else EXIT_FAILED


def cmd_validate(args: argparse.Namespace) -> int:
    graph = load_graph_file(Path(args.graph))
    apply_assignments(graph, args.set or [])
    errors = validate_graph(graph, build_registry(args.pack or []))
    if args.json:
        print(json.dumps({"valid": not errors, "errors": [error.to_json() for error in errors]}, indent=2))
    elif errors:
        for error in errors:
            print(f"error: {format_error(error, graph)}")
        for hint in pack_hints(errors, graph, Path(args.graph)):
            print(hint)
        print(f"{len(errors)} error(s)")
    else:
        print(f"{args.graph}: valid ({len(graph.nodes)} nodes)")
    return EXIT_INVALID if errors else EXIT_OK


def cmd_nodes(args: argparse.Namespace) -> int:
    catalog = build_registry(args.pack or []).catalog()
    if args.json:
        print(json.dumps(catalog, indent=2))
        return EXIT_OK
    for node in catalog["nodes"]:
        inputs = ", ".join(
            f"{spec['name']}:{spec['type']}" + (f"={spec['default']!r}" if spec["has_default"] else "")
            for spec in node["inputs"]
        )
        outputs = ", ".join(f"{spec['name']}:{spec['type']}" for spec in node["outputs"]) or "(output node)"
        print(f"{node['type']:<28} {node['category']:<18} ({inputs}) -> {outputs}")
    print(f"{len(catalog['nodes'])} node types from {len(catalog['packs'])} pack(s)")
    return EXIT_OK
