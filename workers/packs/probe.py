"""Import a pack in a clean interpreter and print its node schemas as JSON (run as a script, never imported).

Started as ``python -I -B probe.py ARGS_JSON`` by ``workers.packs.importcheck``. ``sys.path`` is cut down
to the standard library, the installed host packages, the pack itself and the SDK: Flowyard's own
``workers``/``backend`` code is not importable, so a pack that works here only depends on the SDK.
"""

import importlib
import importlib.util
import json
import os
import resource
import sys
import traceback
import types
from typing import Any, TypedDict


class ProbeError(TypedDict):
    """One problem found while importing the pack, as the report lists it."""

    code: str
    message: str
    node: str | None
    field: str | None


def _clean_import_system(hide: list[str]) -> None:
    hidden = {os.path.realpath(path) for path in hide}
    sys.path[:] = [
        p for p in sys.path if p and not p.startswith("__editable__") and os.path.realpath(p) not in hidden
    ]
    sys.meta_path[:] = [
        finder
        for finder in sys.meta_path
        if not (getattr(finder, "__module__", "") or "").startswith("__editable__")
    ]
    for name in [n for n in sys.modules if n.split(".")[0] in ("nodepacks", "workers", "backend")]:
        del sys.modules[name]


def _load_sdk(sdk_dir: str) -> types.ModuleType:
    parent = types.ModuleType("nodepacks")
    parent.__path__ = []  # only nodepacks.sdk exists: no built-in packs, no other Flowyard code
    sys.modules["nodepacks"] = parent
    spec = importlib.util.spec_from_file_location(
        "nodepacks.sdk", os.path.join(sdk_dir, "__init__.py"), submodule_search_locations=[sdk_dir]
    )
    assert spec is not None and spec.loader is not None
    sdk = importlib.util.module_from_spec(spec)
    sys.modules["nodepacks.sdk"] = sdk
    spec.loader.exec_module(sdk)
    parent.sdk = sdk  # type: ignore[attr-defined]
    return sdk


def _error(errors: list[ProbeError], code: str, message: str, node: str = "", field: str = "") -> None:
    errors.append({"code": code, "message": message, "node": node or None, "field": field or None})


def _check_nodes(pack: object, expected: dict[str, Any], errors: list[ProbeError]) -> list[dict[str, Any]]:
    for field in ("name", "version", "sdk_api"):
        declared = getattr(pack, field)
        if declared != expected[field]:
            _error(
                errors,
                "pack-mismatch",
                f"Pack({field}={declared!r}) in {expected['entry']} differs from flowyard.toml ({expected[field]!r})",
                field=field,
            )
    schemas: list[dict[str, Any]] = []
    seen: set[str] = set()
    prefix = expected["name"] + "."
    for node_cls in pack.nodes:  # type: ignore[attr-defined]
        node_id = getattr(node_cls, "id", "") or getattr(node_cls, "__name__", repr(node_cls))
        try:
            schema = node_cls.schema()
        except Exception as exc:
            _error(errors, "node-schema", f"has no usable schema: {exc}", node=node_id)
            continue
        if schema.id in seen:
            _error(errors, "node-duplicate", "node id is declared twice", node=schema.id)
        seen.add(schema.id)
        if not schema.id.startswith(prefix) or len(schema.id) == len(prefix):
            _error(
                errors, "node-prefix", f"node id must start with {prefix!r} (e.g. {prefix}MyNode)", schema.id
            )
        for spec in schema.inputs:
            try:
                json.dumps(spec.to_json())
            except (TypeError, ValueError) as exc:
                _error(
                    errors, "node-schema", f"input does not serialise to JSON: {exc}", schema.id, spec.name
                )
        for spec in schema.outputs:
            try:
                json.dumps(spec.to_json())
            except (TypeError, ValueError) as exc:
                _error(
                    errors, "node-schema", f"output does not serialise to JSON: {exc}", schema.id, spec.name
                )
        try:
            schemas.append(json.loads(json.dumps(schema.to_json())))
        except (TypeError, ValueError) as exc:
            _error(errors, "node-schema", f"schema does not serialise to JSON: {exc}", node=schema.id)
    if not schemas and not errors:
        _error(errors, "no-nodes", "the pack declares no nodes")
    return schemas


def main() -> None:
    args = json.loads(sys.argv[1])
    # The report goes to a private copy of stdout; whatever the pack prints lands on stderr.
    report_stream = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    errors: list[ProbeError] = []
    schemas: list[dict[str, Any]] = []
    _clean_import_system(args["hide"])
    sdk = _load_sdk(args["sdk_dir"])
    sys.path.insert(0, args["location"])
    try:
        module = importlib.import_module(args["entry"])
    except BaseException as exc:  # SystemExit and friends are import failures too
        tail = "".join(traceback.format_exception(exc)[-6:]).strip()
        reason = f"failed: {type(exc).__name__}: {exc}"
        if isinstance(exc, MemoryError):
            limit = resource.getrlimit(resource.RLIMIT_AS)[0]
            reason = f"ran out of memory (limit {limit // (1024 * 1024)} MiB)"
        _error(errors, "import-failed", f"importing {args['entry']} {reason}\n{tail}")
    else:
        pack = getattr(module, "pack", None)
        if not isinstance(pack, sdk.Pack):
            _error(errors, "no-pack", f"module {args['entry']} defines no 'pack = sdk.Pack(...)'")
        else:
            schemas = _check_nodes(pack, args, errors)
    report_stream.write(json.dumps({"errors": errors, "nodes": schemas}))
    report_stream.flush()
    os._exit(0)  # skip atexit handlers the pack may have registered


if __name__ == "__main__":
    main()
