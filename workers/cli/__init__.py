"""The ``flowyard`` command: run, validate and inspect graphs headless, with no server.

flowyard run GRAPH.json|SCRIPT.py [--out DIR] [--set NODE.INPUT=VALUE ...]
flowyard validate GRAPH.json [--json]
flowyard nodes [--json]

The CLI package: this module is the entry point only (the argument parser and ``main``); the commands live in
``commands`` (graphs, and the helpers every command shares), ``pack`` (``flowyard pack``, ``flowyard login``) and
``models`` (``flowyard models``), which import ``commands`` and never this module.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from workers.cli import models as models_cli
from workers.cli import pack as pack_cli
from workers.cli.commands import (
    EXIT_FAILED,
    EXIT_INVALID,
    EXIT_OK,
    CliError,
    cmd_nodes,
    cmd_run,
    cmd_validate,
    format_error,
    write_outputs,
)
from workers.engine import GraphFormatError

__all__ = ["EXIT_FAILED", "EXIT_INVALID", "EXIT_OK", "CliError", "build_parser", "main", "write_outputs"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flowyard", description="Flowyard workflows from the command line.")
    sub = parser.add_subparsers(dest="command", required=True)

    def add_graph_options(cmd: argparse.ArgumentParser) -> None:
        cmd.add_argument(
            "graph",
            help="graph JSON file (or a saved workflow document, or a Python script defining 'graph')",
        )
        cmd.add_argument(
            "--set", action="append", metavar="NODE.INPUT=VALUE", help="override a constant input"
        )
        cmd.add_argument(
            "--pack", action="append", metavar="PACK", help="extra pack: module, directory or .py"
        )

    run = sub.add_parser("run", help="run a graph and save its outputs")
    add_graph_options(run)
    run.add_argument(
        "--out",
        default="out",
        help="directory for images, videos, audio and other saved files (default: ./out)",
    )
    run.add_argument("--output", action="append", metavar="NODE", help="compute only these nodes")
    run.add_argument("--parallelism", type=int, default=4, help="nodes run at once (default 4)")
    run.add_argument(
        "--models",
        metavar="DIR",
        help="model library in ComfyUI's layout (checkpoints/, loras/, vae/...; default $FLOWYARD_MODELS_DIR or var/models)",
    )
    run.add_argument(
        "--extra-model-paths",
        action="append",
        metavar="YAML",
        help="a ComfyUI extra_model_paths.yaml whose folders to use too (repeatable)",
    )
    run.add_argument("--quiet", action="store_true", help="no progress lines")
    run.add_argument("--json", action="store_true", help="print a JSON summary at the end")
    run.set_defaults(func=cmd_run)

    validate = sub.add_parser("validate", help="check a graph and print every error")
    add_graph_options(validate)
    validate.add_argument("--json", action="store_true")
    validate.set_defaults(func=cmd_validate)

    nodes = sub.add_parser("nodes", help="list node types")
    nodes.add_argument("--json", action="store_true", help="print the full catalog as JSON")
    nodes.add_argument("--pack", action="append", metavar="PACK", help="extra pack: module, directory or .py")
    nodes.set_defaults(func=cmd_nodes)
    pack_cli.add_pack_commands(sub)
    pack_cli.add_login_command(sub)
    models_cli.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except GraphFormatError as exc:
        for error in exc.errors:
            print(f"error: {format_error(error)}", file=sys.stderr)
        return EXIT_INVALID
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    return code
