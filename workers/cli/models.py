"""``flowyard models``: list, register and fetch models in the worker's local ModelScope cache.

flowyard models list [--json] [--cache DIR]
flowyard models register DIR OWNER/NAME [--revision REV] [--hardlink] [--overwrite] [--cache DIR]
flowyard models fetch OWNER/NAME [--revision REV] [--cache DIR]      (needs a network that reaches the hub)
flowyard models files [KIND] [--json]                                  (the model library: FLOWYARD_MODELS_DIR ...)
flowyard models fetch-file OWNER/NAME [FILE] --kind KIND --revision REV [--name NAME] [--local-files-only]

Run it as ``flowyard models ...`` (``python -m workers.cli models ...``); ``add_parser(sub)`` hooks it into a
parser.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from workers.runtime.model_library import KIND_ALIASES, KIND_FOLDERS, ModelLibrary
from workers.runtime.models import (
    DEFAULT_REVISION,
    ModelNotAvailable,
    default_cache_dir,
    fetch_model,
    register_local_model,
    scan_local_models,
)

EXIT_OK, EXIT_FAILED = 0, 1


def _cache(args: argparse.Namespace) -> Path:
    return Path(args.cache) if args.cache else default_cache_dir()


def cmd_list(args: argparse.Namespace) -> int:
    """Print the models the local cache holds."""
    cache = _cache(args)
    found = scan_local_models(cache)
    if args.json:
        print(json.dumps({"cache_dir": str(cache), "models": [m.to_json() for m in found]}, indent=2))
        return EXIT_OK
    if not found:
        print(f"no models in {cache}")
        return EXIT_OK
    width = max(len(m.model_id) for m in found)
    for model in found:
        size = f"{model.size_bytes / 1e6:.1f} MB"
        print(
            f"{model.model_id:<{width}}  {model.revision:<12} {size:>10}  {model.task or '-':<28} {model.path}"
        )
    return EXIT_OK


def cmd_register(args: argparse.Namespace) -> int:
    """Copy a local model directory into the cache under a model id and revision."""
    try:
        target = register_local_model(
            Path(args.source),
            args.model_id,
            args.revision,
            _cache(args),
            hardlink=args.hardlink,
            overwrite=args.overwrite,
        )
    except (ValueError, FileExistsError, ModelNotAvailable, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"registered {args.model_id}@{args.revision} at {target}")
    return EXIT_OK


def cmd_fetch(args: argparse.Namespace) -> int:
    """Download a model from the ModelScope hub into the cache."""
    try:
        target = fetch_model(args.model_id, args.revision, _cache(args))
    except Exception as exc:  # network and hub errors come in many types; all end the command the same way
        print(f"error: could not fetch {args.model_id}@{args.revision}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"fetched {args.model_id}@{args.revision} to {target}")
    return EXIT_OK


def cmd_files(args: argparse.Namespace) -> int:
    """Print the model library's files by kind."""
    library = ModelLibrary.from_env()
    listing = library.listing([args.kind] if args.kind else None)
    if args.json:
        print(json.dumps({"roots": [str(r) for r in library.roots], "files": listing}, indent=2))
        return EXIT_OK
    if not listing:
        print(f"no model files in {', '.join(str(r) for r in library.roots)} (or the extra model paths)")
    for kind, entries in listing.items():
        for entry in entries:
            print(
                f"{kind:<18} {entry['name']:<48} {entry['size_bytes'] / 1e6:>10.1f} MB  {entry['sha256'] or '-'}"
            )
    return EXIT_OK


def cmd_fetch_file(args: argparse.Namespace) -> int:
    """Fetch a ModelScope file (or whole repo) into the model library, recording its hash and source."""
    try:
        fetched = ModelLibrary.from_env().fetch_file(
            args.model_id,
            args.file,
            args.kind,
            revision=args.revision,
            name=args.name,
            cache_dir=Path(args.cache) if args.cache else None,
            overwrite=args.overwrite,
            local_files_only=args.local_files_only,
        )
    except Exception as exc:  # hub, network and file errors come in many types; all end the command alike
        print(
            f"error: could not fetch {args.model_id}@{args.revision} {args.file or ''}: {exc}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    print(f"fetched {fetched.kind}/{fetched.name} (sha256 {fetched.sha256}) to {fetched.path}")
    return EXIT_OK


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Add the ``models`` command (with list/register/fetch) to a ``flowyard`` sub-parser set."""
    models = sub.add_parser("models", help="list, register and fetch models in the local model cache")
    actions = models.add_subparsers(dest="models_command", required=True)
    cache_help = "the model cache (default: MODELSCOPE_CACHE or ~/.cache/modelscope)"

    listing = actions.add_parser("list", help="list the models the local cache can load")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.add_argument("--cache", help=cache_help)
    listing.set_defaults(func=cmd_list)

    register = actions.add_parser("register", help="copy a local model directory into the cache")
    register.add_argument("source", help="a directory in ModelScope's layout (configuration.json, weights)")
    register.add_argument("model_id", help="the ModelScope model id to register it as (owner/name)")
    register.add_argument("--revision", default=DEFAULT_REVISION, help="default: %(default)s")
    register.add_argument("--hardlink", action="store_true", help="hard-link files instead of copying them")
    register.add_argument(
        "--overwrite", action="store_true", help="replace that revision if it is registered"
    )
    register.add_argument("--cache", help=cache_help)
    register.set_defaults(func=cmd_register)

    fetch = actions.add_parser("fetch", help="download a model from the ModelScope hub (needs a network)")
    fetch.add_argument("model_id", help="owner/name")
    fetch.add_argument("--revision", default=DEFAULT_REVISION, help="default: %(default)s")
    fetch.add_argument("--cache", help=cache_help)
    fetch.set_defaults(func=cmd_fetch)

    files = actions.add_parser(
        "files", help="list the model library (FLOWYARD_MODELS_DIR and extra model paths)"
    )
    files.add_argument("kind", nargs="?", choices=sorted([*KIND_FOLDERS, *KIND_ALIASES]))
    files.add_argument("--json", action="store_true", help="print JSON")
    files.set_defaults(func=cmd_files)

    fetch_file = actions.add_parser("fetch-file", help="fetch a ModelScope file into the model library")
    fetch_file.add_argument("model_id", help="owner/name")
    fetch_file.add_argument("file", nargs="?", help="the file in the repo; leave out for the whole repo")
    fetch_file.add_argument("--kind", required=True, choices=sorted([*KIND_FOLDERS, *KIND_ALIASES]))
    fetch_file.add_argument("--revision", required=True, help="a tag or commit: what the library records")
    fetch_file.add_argument("--name", help="the name in the kind folder (default: the file's own name)")
    fetch_file.add_argument("--overwrite", action="store_true", help="replace a file of that name")
    fetch_file.add_argument("--local-files-only", action="store_true", help="from the ModelScope cache only")
    fetch_file.add_argument("--cache", help=cache_help)
    fetch_file.set_defaults(func=cmd_fetch_file)
    return models


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``models ...`` as a program of its own."""
    parser = argparse.ArgumentParser(prog="flowyard")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["models", *(sys.argv[1:] if argv is None else argv)])
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
