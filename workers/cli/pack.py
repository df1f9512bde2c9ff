"""``flowyard pack ...`` and ``flowyard login``: the node-pack author's loop from the command line.

flowyard pack create NAME [--dir PARENT]
flowyard pack run [DIR] --node TYPE [--set INPUT=VALUE ...] | --graph GRAPH.json [--set NODE.INPUT=VALUE ...]
flowyard pack validate [DIR|ARCHIVE] [--json]
flowyard pack build [DIR] [--out dist/]
flowyard pack publish [DIR|ARCHIVE] [--server URL]
flowyard login --server URL [--token TOKEN]
"""

from __future__ import annotations

import argparse
import getpass
import ipaddress
import json
import os
import sys
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from nodepacks.sdk.manifest import ManifestError, load_manifest
from workers.cli import commands
from workers.engine import Engine, MemoryCache, validate_graph
from workers.engine.events import summarize
from workers.engine.graph import parse_graph
from workers.packs.build import ARCHIVE_SUFFIX, BuildError, build_pack
from workers.packs.files import sha256_file
from workers.packs.report import ValidationReport
from workers.packs.scaffold import ScaffoldError, create_pack
from workers.packs.scan import Finding, scan_files
from workers.packs.validate import validate_archive_in_subprocess, validate_source
from workers.runtime.files import LocalFiles

CREDENTIALS_FILE = "credentials.json"
UPLOAD_PATH = "/api/packs/upload"


# --- reports -----------------------------------------------------------------------------------------


def _finding_line(finding: Finding) -> str:
    where = f"{finding.file}:{finding.line}" if finding.line else finding.file
    text = f"  {finding.severity.upper():<6} {finding.rule:<22} {where}"
    if finding.snippet:
        text += f"\n         {finding.snippet}"
    return f"{text}\n         {finding.explanation}"


def print_report(report: ValidationReport, stream: TextIO) -> None:
    """Print a validation report for people: errors, scan findings, nodes, then the verdict."""
    manifest = report.manifest or {}
    title = f"{manifest.get('name', '?')} {manifest.get('version', '?')}" if manifest else report.source
    details = f"{len(report.files)} files" + (f", sha256 {report.sha256[:16]}" if report.sha256 else "")
    stream.write(f"{title} ({details})\n")
    if report.errors:
        stream.write(f"errors ({len(report.errors)}):\n")
        for error in report.errors:
            stream.write(f"  {error}\n")
    if report.findings:
        note = ", flagged for review" if report.flagged else ""
        stream.write(f"scan findings ({len(report.findings)}{note}):\n")
        for finding in report.findings:
            stream.write(_finding_line(finding) + "\n")
    if report.nodes:
        stream.write(f"nodes ({len(report.nodes)}): {', '.join(node['type'] for node in report.nodes)}\n")
    if not report.ok:
        stream.write(f"INVALID: {len(report.errors)} error(s)\n")
    elif report.flagged:
        stream.write("valid, but high-severity findings: the registry will hold it for a reviewer\n")
    else:
        stream.write("valid" + ("" if report.import_checked else " (import not checked)") + "\n")


# --- create / validate / build -----------------------------------------------------------------------


def cmd_create(args: argparse.Namespace) -> int:
    try:
        folder = create_pack(args.name, Path(args.dir))
    except ScaffoldError as exc:
        raise commands.CliError(f"pack create: {exc}") from None
    print(f"created {folder}")
    print(f"  next: flowyard pack run {folder} --node {args.name}.Example --set text=hi")
    return commands.EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    target = Path(args.path)
    if target.is_file():
        report = validate_archive_in_subprocess(target)
    elif target.is_dir():
        report = validate_source(target)
    else:
        raise commands.CliError(f"pack validate: {target}: no such folder or archive")
    if args.json:
        print(report.model_dump_json(indent=2))
    else:
        print_report(report, sys.stdout)
    return commands.EXIT_OK if report.ok else commands.EXIT_INVALID


def cmd_build(args: argparse.Namespace) -> int:
    source = Path(args.path)
    out = Path(args.out) if args.out else source / "dist"
    try:
        archive = build_pack(source, out)
    except (BuildError, ManifestError) as exc:
        raise commands.CliError(f"pack build: {exc}") from None
    digest, size = sha256_file(archive)
    print(f"built {archive} ({size} bytes, sha256 {digest})")
    findings = scan_files((path, (source / path).read_bytes()) for path in _python_files(source))
    high = [finding for finding in findings if finding.severity == "high"]
    if high:
        print(f"warning: {len(high)} high-severity scan finding(s); run `flowyard pack validate` to see them")
    return commands.EXIT_OK


def _python_files(source: Path) -> list[str]:
    from workers.packs.files import collect_files

    return [path for path in collect_files(source) if path.endswith(".py")]


# --- run ---------------------------------------------------------------------------------------------


def _pack_module_path(root: Path) -> str:
    """The path ``load_pack_argument`` takes for the pack in ``root``, with ``root`` importable."""
    try:
        manifest = load_manifest(root)
    except ManifestError as exc:
        raise commands.CliError(str(exc)) from None
    base = root / manifest.entry.replace(".", "/")
    location = base if base.is_dir() else base.with_suffix(".py")
    if not location.exists():
        raise commands.CliError(f"entry: module {manifest.entry!r} not found in {root}")
    # The pack's own absolute imports (``from demo import helpers``) resolve as they will when installed.
    if str(root.resolve()) not in sys.path:
        sys.path.insert(0, str(root.resolve()))
    return str(location)


def _show(type_name: str, value: Any) -> str:
    if isinstance(value, str | int | float | bool) or value is None:
        return json.dumps(value)
    if isinstance(value, list | dict):
        try:
            return json.dumps(value)[:500]
        except (TypeError, ValueError):
            pass
    return summarize(type_name, value)


def cmd_run(args: argparse.Namespace) -> int:
    root = Path(args.path)
    pack_path = _pack_module_path(root)
    if args.graph:
        namespace = argparse.Namespace(
            graph=args.graph,
            set=args.set,
            pack=[pack_path],
            out=args.out,
            output=None,
            parallelism=4,
            quiet=args.quiet,
            json=False,
        )
        return commands.cmd_run(namespace)
    if not args.node:
        raise commands.CliError("pack run: give --node TYPE or --graph GRAPH.json")
    inputs: dict[str, Any] = {}
    for text in args.set or []:
        name, sep, raw = text.partition("=")
        if not sep or not name:
            raise commands.CliError(f"--set {text!r}: expected INPUT=VALUE")
        try:
            inputs[name] = json.loads(raw)
        except json.JSONDecodeError:
            inputs[name] = raw
    registry = commands.build_registry([pack_path])
    entry = registry.get(args.node)
    if entry is None:
        known = ", ".join(
            e.schema.id for e in registry if e.pack.name not in ("core",) and not e.pack.builtin
        )
        raise commands.CliError(f"pack run: no node type {args.node!r} (this pack has: {known or 'none'})")
    graph = parse_graph({"nodes": {"1": {"type": args.node, "inputs": inputs}}, "outputs": ["1"]})
    errors = validate_graph(graph, registry)
    if errors:
        for error in errors:
            print(f"error: {commands.format_error(error, graph)}", file=sys.stderr)
        return commands.EXIT_INVALID
    engine = Engine(registry, MemoryCache(), parallelism=1, files=LocalFiles([root.resolve(), Path.cwd()]))
    try:
        result = engine.run(
            graph, outputs=["1"], on_event=commands.ProgressPrinter(graph, sys.stderr, args.quiet)
        )
    finally:
        engine.close()
    if result.status != "succeeded":
        for error in result.errors:
            print(f"error: {commands.format_error(error, graph)}", file=sys.stderr)
        return commands.EXIT_FAILED
    for spec, value in zip(entry.schema.outputs, result.outputs.get("1", ()), strict=False):
        print(f"{spec.name} ({spec.type}): {_show(spec.type, value)}")
    for path in commands.write_outputs(result.ui, Path(args.out), sys.stdout):
        print(f"wrote {path}", file=sys.stderr)
    return commands.EXIT_OK


# --- login / publish ---------------------------------------------------------------------------------


def config_dir() -> Path:
    """Where credentials live: ``$FLOWYARD_CONFIG_DIR`` or ``~/.config/flowyard``."""
    override = os.environ.get("FLOWYARD_CONFIG_DIR")
    return Path(override) if override else Path.home() / ".config" / "flowyard"


def _check_server(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise commands.CliError(
            f"--server {url!r}: expected an http(s) URL such as https://flowyard.example.com"
        )
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise commands.CliError(f"--server {url!r}: use https; plain http is only allowed for localhost")
    return url.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def save_credentials(server: str, token: str) -> Path:
    """Write the server URL and token to ``credentials.json``, readable by the owner only (0600)."""
    folder = config_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = folder / CREDENTIALS_FILE
    partial = folder / f".{CREDENTIALS_FILE}.partial"
    # Created 0600 from the start: the token is never readable by others, not even for a moment.
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"server": server, "token": token}, handle)
    os.chmod(partial, 0o600)
    partial.replace(target)
    return target


def load_credentials() -> dict[str, str]:
    """Return {"server", "token"} saved by ``flowyard login``; raise CliError when absent."""
    path = config_dir() / CREDENTIALS_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise commands.CliError("not logged in: run `flowyard login --server URL`") from None
    except json.JSONDecodeError:
        raise commands.CliError(f"{path} is not valid JSON: run `flowyard login` again") from None
    if not isinstance(data, dict) or not isinstance(data.get("token"), str):
        raise commands.CliError(f"{path} holds no token: run `flowyard login` again")
    return {"server": str(data.get("server", "")), "token": data["token"]}


def cmd_login(args: argparse.Namespace) -> int:
    server = _check_server(args.server)
    token = args.token or os.environ.get("FLOWYARD_TOKEN") or ""
    if not token and sys.stdin.isatty():
        token = getpass.getpass(f"API token for {server}: ")
    token = token.strip()
    if not token:
        raise commands.CliError("login: no token given (--token, $FLOWYARD_TOKEN, or type it when asked)")
    path = save_credentials(server, token)
    print(f"saved credentials for {server} in {path}")
    return commands.EXIT_OK


def _archive_to_publish(target: Path) -> Path:
    if target.is_file():
        return target
    if not target.is_dir():
        raise commands.CliError(f"pack publish: {target}: no such folder or archive")
    try:
        return build_pack(target, target / "dist")
    except (BuildError, ManifestError) as exc:
        raise commands.CliError(f"pack publish: {exc}") from None


def cmd_publish(args: argparse.Namespace) -> int:
    import httpx

    credentials = load_credentials()
    server = _check_server(args.server or credentials["server"])
    archive = _archive_to_publish(Path(args.path))
    if not archive.name.endswith(ARCHIVE_SUFFIX):
        raise commands.CliError(f"pack publish: {archive.name} is not a {ARCHIVE_SUFFIX} archive")
    local = validate_archive_in_subprocess(archive)
    if not local.ok:
        print_report(local, sys.stderr)
        raise commands.CliError("pack publish: the archive fails validation; nothing was uploaded")
    digest, size = sha256_file(archive)
    print(f"uploading {archive.name} ({size} bytes) to {server}")
    try:
        with archive.open("rb") as handle:
            response = httpx.post(
                f"{server}{UPLOAD_PATH}",
                files={"archive": (archive.name, handle, "application/zip")},
                data={"sha256": digest},
                headers={"Authorization": f"Bearer {credentials['token']}"},
                timeout=args.timeout,
            )
    except httpx.HTTPError as exc:
        raise commands.CliError(f"pack publish: cannot reach {server} ({exc})") from None
    return _print_server_feedback(response.status_code, response.content)


def _print_server_feedback(status: int, body: bytes) -> int:
    """Print what the registry said about the upload; return the exit code."""
    if status in (401, 403):
        print(f"error: the server refused the token ({status}): run `flowyard login` again", file=sys.stderr)
        return commands.EXIT_FAILED
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        text = body.decode("utf-8", "replace")[:500]
        print(f"{'error: ' if status >= 400 else ''}server answered {status}: {text}")
        return commands.EXIT_OK if status < 400 else commands.EXIT_FAILED
    stream = sys.stdout if status < 400 else sys.stderr
    verdict = data.get("status") or ("accepted" if status < 400 else "rejected")
    stream.write(
        f"server: {verdict} ({status})" + (f": {data['message']}" if data.get("message") else "") + "\n"
    )
    if isinstance(data.get("report"), dict):
        try:
            print_report(ValidationReport.model_validate(data["report"]), stream)
        except ValueError:
            stream.write(json.dumps(data["report"], indent=2) + "\n")
    if data.get("url"):
        stream.write(f"{data['url']}\n")
    return commands.EXIT_OK if status < 400 else commands.EXIT_INVALID


# --- parser ------------------------------------------------------------------------------------------


def add_pack_commands(sub: Any) -> None:
    """Register ``flowyard pack ...`` on the main parser's subparsers."""
    pack = sub.add_parser("pack", help="create, run, validate, build and publish node packs")
    commands = pack.add_subparsers(dest="pack_command", required=True)

    create = commands.add_parser("create", help="scaffold a working pack in ./NAME")
    create.add_argument("name", help="pack name: lowercase letters, digits, '-' or '_'")
    create.add_argument("--dir", default=".", help="parent folder (default: .)")
    create.set_defaults(func=cmd_create)

    run = commands.add_parser("run", help="run one node or a graph against the local pack")
    run.add_argument("path", nargs="?", default=".", help="pack folder (default: .)")
    target = run.add_mutually_exclusive_group(required=True)
    target.add_argument("--node", metavar="TYPE", help="node type to run, e.g. demo.Example")
    target.add_argument("--graph", metavar="GRAPH.json", help="graph to run")
    run.add_argument(
        "--set", action="append", metavar="INPUT=VALUE", help="input value (NODE.INPUT=VALUE with --graph)"
    )
    run.add_argument("--out", default="out", help="directory for images (default: ./out)")
    run.add_argument("--quiet", action="store_true", help="no progress lines")
    run.set_defaults(func=cmd_run)

    validate = commands.add_parser("validate", help="check manifest, files, code scan and import")
    validate.add_argument("path", nargs="?", default=".", help="pack folder or built archive (default: .)")
    validate.add_argument("--json", action="store_true", help="print the full JSON report")
    validate.set_defaults(func=cmd_validate)

    build = commands.add_parser("build", help="build a reproducible .flowyard.zip")
    build.add_argument("path", nargs="?", default=".", help="pack folder (default: .)")
    build.add_argument("--out", help="output folder (default: DIR/dist)")
    build.set_defaults(func=cmd_build)

    publish = commands.add_parser("publish", help="upload the pack to the registry")
    publish.add_argument("path", nargs="?", default=".", help="pack folder or built archive (default: .)")
    publish.add_argument("--server", help="registry URL (default: the one from `flowyard login`)")
    publish.add_argument("--timeout", type=float, default=120.0, help="upload timeout in seconds")
    publish.set_defaults(func=cmd_publish)


def add_login_command(sub: Any) -> None:
    """Register ``flowyard login``."""
    login = sub.add_parser("login", help="save the registry URL and an API token")
    login.add_argument("--server", required=True, help="registry URL, e.g. https://flowyard.example.com")
    login.add_argument("--token", help="API token (default: $FLOWYARD_TOKEN, or asked for)")
    login.set_defaults(func=cmd_login)
