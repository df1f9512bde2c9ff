"""Isolated packs as ordinary registry entries: proxy node classes whose ``execute`` runs in the pack's host.

``remote_pack(env, pool)`` turns a host's ``describe`` (JSON schemas) into an SDK ``Pack`` of ``RemoteNode``
subclasses: the engine validates, caches (keys include the pack's name and version) and schedules them like
local nodes, and each ``execute`` forwards the inputs to the pack's host process. ``registry_with_packs`` is
the seam for the backend: built-in packs plus the installed pack versions of a workspace.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar, cast

from pydantic import TypeAdapter, create_model

from nodepacks import sdk
from nodepacks.sdk import types as t
from nodepacks.sdk.node import _MISSING, InputSpec, NodeSchema, OutputSpec
from workers.engine.registry import DEFAULT_PACK_MODULES, NodeRegistry, RegistryError, load_pack
from workers.runtime.packhost import sandbox
from workers.runtime.packhost.client import PackHost, PackHostError, PackHostPool
from workers.runtime.packhost.envs import ArchiveSource, PackEnv, PackEnvError, PackEnvironments
from workers.runtime.packhost.sandbox import HostLimits

logger = logging.getLogger(__name__)

DESCRIBE_FILE = "describe.json"
_ADAPTER_TYPES: dict[str, Any] = {t.INT: int, t.FLOAT: float, t.STRING: str, t.BOOLEAN: bool}

InstalledPack = tuple[str, str, ArchiveSource, str]
"""(name, version, archive path or blob reader, sha256): one installed pack version."""


class RemoteNode(sdk.Node):
    """Base of the proxy classes: the real node runs in ``_env``'s host, reached through ``_pool``."""

    _env: ClassVar[PackEnv]
    _pool: ClassVar[PackHostPool]
    _output_names: ClassVar[tuple[str, ...]] = ()

    def execute(self, inputs: Any, ctx: sdk.Context) -> Any:
        cls = type(self)
        values = {name: getattr(inputs, name) for name in inputs.model_fields_set}
        outputs, ui = cls._pool.execute(cls._env, cls.id, values, ctx)
        built = None
        if outputs is not None:
            if len(outputs) != len(cls._output_names):
                raise sdk.NodeError(
                    f"{cls.id} returned {len(outputs)} outputs, it declares {len(cls._output_names)}"
                )
            built = cls.Outputs.model_construct(**dict(zip(cls._output_names, outputs, strict=True)))
        return sdk.Result(outputs=built, ui=ui or sdk.UI())


def _input_spec(data: dict[str, Any]) -> InputSpec:
    type_name = str(data["type"])
    mode = str(data["mode"])
    parsed = t.parse(type_name)
    adapter = None
    if mode != "socket" or t.JSON in parsed or t.ANY_TYPE in parsed:
        python_type = _ADAPTER_TYPES.get(type_name, Any)
        adapter = TypeAdapter(
            python_type | None if not data["required"] and python_type is not Any else python_type
        )
    return InputSpec(
        name=str(data["name"]),
        type=type_name,
        required=bool(data["required"]),
        mode=mode,
        default=data["default"] if data.get("has_default") else _MISSING,
        tooltip=str(data.get("tooltip") or ""),
        widget=data.get("widget"),
        adapter=adapter,
    )


def _class_name(node_id: str) -> str:
    return "Remote_" + re.sub(r"\W", "_", node_id)


def remote_node_class(env: PackEnv, pool: PackHostPool, data: dict[str, Any]) -> type[RemoteNode]:
    """A proxy node class for one node schema that the host of ``env`` described."""
    inputs = tuple(_input_spec(item) for item in data["inputs"])
    outputs = tuple(
        OutputSpec(name=str(o["name"]), type=str(o["type"]), tooltip=str(o.get("tooltip") or ""))
        for o in data["outputs"]
    )
    name = _class_name(str(data["type"]))
    input_fields: dict[str, Any] = {spec.name: (Any, None) for spec in inputs}
    output_fields: dict[str, Any] = {spec.name: (Any, None) for spec in outputs}
    inputs_model = create_model(f"{name}Inputs", __base__=sdk.Inputs, **input_fields)
    outputs_model = create_model(f"{name}Outputs", __base__=sdk.Outputs, **output_fields)
    # A fingerprint (extra cache-key material, e.g. a file's hash) would need a call into the host at
    # key time: such nodes are treated as non-deterministic instead, so a stale result is never reused.
    fingerprint = bool(data.get("has_fingerprint"))
    schema = NodeSchema(
        id=str(data["type"]),
        display_name=str(data.get("display_name") or ""),
        category=str(data.get("category") or "misc"),
        description=str(data.get("description") or ""),
        version=str(data.get("version") or "1"),
        output_node=bool(data.get("output_node")),
        deprecated=data.get("deprecated"),
        non_deterministic=bool(data.get("non_deterministic")) or fingerprint,
        requires_gpu=bool(data.get("requires_gpu")),
        memory_mb=int(data.get("memory_mb") or 0),
        inputs=inputs,
        outputs=outputs,
        has_fingerprint=False,
        device=str(data.get("device") or "cpu"),
    )
    namespace = {
        "__doc__": schema.description,
        "__module__": __name__,
        "Inputs": inputs_model,
        "Outputs": outputs_model,
        "_env": env,
        "_pool": pool,
        "_output_names": tuple(spec.name for spec in outputs),
    }
    cls = cast(
        type[RemoteNode], type(name, (RemoteNode,), namespace)
    )  # id is empty here: the SDK does not rebuild the schema
    cls.id = schema.id
    cls._schema = schema
    for attr in (
        "display_name",
        "category",
        "version",
        "output_node",
        "non_deterministic",
        "requires_gpu",
        "device",
    ):
        setattr(cls, attr, getattr(schema, attr))
    return cls


def describe(env: PackEnv, pool: PackHostPool) -> dict[str, Any]:
    """The host's description of ``env`` (pack + node schemas), cached in the environment's folder."""
    cached = env.path / DESCRIBE_FILE
    try:
        return dict(json.loads(cached.read_text()))
    except (OSError, ValueError):
        pass
    description = pool.host(env).describe()
    data = {"pack": description["pack"], "nodes": description["nodes"]}
    partial = cached.with_name(f".{DESCRIBE_FILE}.{os.getpid()}")
    partial.write_text(json.dumps(data))
    partial.replace(cached)
    return data


def description_problems(env: PackEnv, description: dict[str, Any]) -> list[dict[str, Any]]:
    """What is wrong with a host's description of ``env``: dicts with ``code``, ``message`` (and ``node``).

    ``pack-mismatch`` (the module's pack is not the manifest's), ``node-prefix`` (an id outside
    ``<name>.``, which would shadow built-in or other packs' nodes), ``no-nodes``. Validation refuses a
    version with any; ``remote_pack`` refuses a mismatch and leaves unprefixed nodes out.
    """
    problems: list[dict[str, Any]] = []
    declared = description.get("pack") or {}
    if (declared.get("name"), declared.get("version")) != (env.name, env.version):
        problems.append(
            {
                "code": "pack-mismatch",
                "message": f"the module's pack is {declared.get('name')} {declared.get('version')}, "
                f"the manifest says {env.name} {env.version}",
            }
        )
    nodes = description.get("nodes") or []
    for node in nodes:
        node_type = str(node.get("type"))
        if not node_type.startswith(f"{env.name}."):
            problems.append(
                {
                    "code": "node-prefix",
                    "message": f"node id {node_type!r} must start with {env.name + '.'!r} (pack ids never "
                    "shadow built-in or other packs' nodes)",
                    "node": node_type,
                }
            )
    if not nodes:
        problems.append({"code": "no-nodes", "message": f"pack {env.name} defines no nodes"})
    return problems


def remote_pack(env: PackEnv, pool: PackHostPool) -> sdk.Pack:
    """An SDK ``Pack`` whose nodes execute in ``env``'s host; node ids outside ``<name>.`` are dropped."""
    data = describe(env, pool)
    declared = data["pack"]
    problems = description_problems(env, data)
    for problem in problems:
        if problem["code"] == "pack-mismatch":
            raise PackEnvError(problem["message"])
    outside = {problem["node"] for problem in problems if problem["code"] == "node-prefix"}
    nodes = []
    for node in data["nodes"]:
        if node["type"] in outside:
            logger.warning("pack %s: node %s is outside the pack's namespace: ignored", env.key, node["type"])
            continue
        nodes.append(remote_node_class(env, pool, node))
    return sdk.Pack(
        name=env.name,
        version=env.version,
        nodes=nodes,
        sdk_api=str(declared.get("sdk_api") or env.manifest.get("sdk_api") or ">=1.0,<2"),
        display_name=str(declared.get("display_name") or env.manifest.get("display_name") or ""),
        description=str(declared.get("description") or env.manifest.get("description") or ""),
    )


INSPECT_LIMITS = HostLimits(cpu_seconds=60, memory_bytes=4 * 1024**3, start_timeout=60.0, processes=32)
"""Limits of the one-off host that imports an uploaded pack at validation."""


def inspect_archive(
    environments: PackEnvironments,
    source: ArchiveSource,
    sha256: str,
    *,
    limits: HostLimits = INSPECT_LIMITS,
    scratch_root: Path | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Import an uploaded pack in a one-off sandboxed host: (problems, node schemas).

    The only place an uploaded pack's import-time code runs at validation: inside its own environment and
    the pack sandbox, never in a web or worker process. Problems (dicts with ``code``, ``message`` and
    ``node`` where one is concerned): ``import-failed`` (the environment cannot be built, the import raised
    or the host died: the message says which), ``pack-mismatch`` (the module's pack is not the manifest's),
    ``node-prefix`` (a node id outside ``<pack name>.``) and ``no-nodes``. ``SandboxUnavailable`` propagates:
    the caller decides what validating without a sandbox means.
    """
    sandbox.sandbox_mode()  # raises SandboxUnavailable before anything is built
    try:
        env = environments.ensure(source, sha256)
    except PackEnvError as exc:
        return [{"code": "import-failed", "message": f"its environment cannot be built: {exc}"}], []
    host = PackHost(env, limits=limits, scratch_root=scratch_root)
    try:
        description = host.start()
    except PackHostError as exc:
        return [{"code": "import-failed", "message": str(exc)}], []
    finally:
        host.close()
    nodes = [dict(node) for node in description.get("nodes") or []]
    problems = description_problems(env, description)
    return problems, [{k: v for k, v in node.items() if k != "has_fingerprint"} for node in nodes]


_environments: PackEnvironments | None = None
_pool: PackHostPool | None = None


def default_environments() -> PackEnvironments:
    """This worker's environments: ``$FLOWYARD_PACK_ENV_ROOT`` (default: a folder in the temp dir)."""
    global _environments
    if _environments is None:
        root = os.environ.get("FLOWYARD_PACK_ENV_ROOT") or os.path.join(
            tempfile.gettempdir(), "flowyard-packenvs"
        )
        _environments = PackEnvironments(Path(root))
    return _environments


def default_pool() -> PackHostPool:
    """This worker's pool of warm pack hosts (closed when the process exits)."""
    global _pool
    if _pool is None:
        _pool = PackHostPool()
        atexit.register(_pool.close)
    return _pool


def registry_with_packs(
    installed: Iterable[InstalledPack],
    *,
    environments: PackEnvironments | None = None,
    pool: PackHostPool | None = None,
    builtin_modules: Sequence[str] = DEFAULT_PACK_MODULES,
    strict: bool = False,
) -> NodeRegistry:
    """The built-in packs plus each installed pack version, isolated in its own environment and host.

    A pack whose environment cannot be built (hash mismatch, invalid archive, failed install) or whose
    nodes clash with another pack's is left out with an error logged; ``strict=True`` raises instead.
    """
    environments = environments or default_environments()
    pool = pool or default_pool()
    packs = [load_pack(module) for module in builtin_modules]
    taken = {node.id for pack in packs for node in pack.nodes}
    names = {pack.name for pack in packs}
    for name, version, source, sha256 in installed:
        try:
            env = environments.ensure(source, sha256)
            if (env.name, env.version) != (name, version):
                raise PackEnvError(f"the archive holds {env.name} {env.version}, not {name} {version}")
            pack = remote_pack(env, pool)
            clash = sorted({node.id for node in pack.nodes} & taken)
            if pack.name in names or clash:
                raise RegistryError(
                    f"pack {name} {version} clashes with another pack ({pack.name} or {clash})"
                )
        except Exception as exc:
            if strict:
                raise
            logger.error("pack %s %s is not available: %s", name, version, exc)
            continue
        packs.append(pack)
        names.add(pack.name)
        taken.update(node.id for node in pack.nodes)
    return NodeRegistry(packs)
