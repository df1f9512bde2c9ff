"""ComfyUI workflow files <-> Flowyard workflow documents.

Import takes ComfyUI's UI format (``nodes`` with ``type``, ``pos``, ``size``, positional ``widgets_values``,
``inputs`` with links; ``links`` as ``[id, from, from_slot, to, to_slot, type]`` or link objects; ``groups``) or
an API-format prompt, and returns a document ``{graph, layout}`` plus warnings ``[{node, message}]``:

- positional ``widgets_values`` are named with our schemas (ComfyUI's extra control_after_generate value after
  seed-like INT widgets is skipped);
- ``Reroute`` nodes are followed through, ``PrimitiveNode`` becomes our ``Primitive{Int,Float,String,Boolean}``
  (or its value is written into the inputs it fed), ``Note``/``MarkdownNote`` are dropped with a warning holding
  their text, muted/bypassed nodes keep their mode in the layout;
- unknown node types stay in the graph under their own type (the editor shows them as missing nodes) with their
  links and their original ``widgets_values``, and are reported; ``missing`` in the answer has their UI data.

Export writes a document's graph as an API-format prompt (``_meta.title`` from the layout), leaving out muted
nodes and routing links around bypassed ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backend.compat.schemas import is_seed_like, widget_inputs
from nodepacks.sdk.node import NodeSchema
from workers.engine import GraphFormatError, NodeRegistry
from workers.engine.subgraphs import PATH_SEPARATOR, flatten, has_subgraphs, subgraph_id

CONTROL_VALUES = {"fixed", "increment", "decrement", "randomize"}
NOTE_TYPES = {"Note", "MarkdownNote"}
PRIMITIVE_FOR_TYPE = {"INT": "PrimitiveInt", "FLOAT": "PrimitiveFloat", "STRING": "PrimitiveString",
                      "BOOLEAN": "PrimitiveBoolean"}  # fmt: skip
MODES = {2: "mute", 4: "bypass"}
GRID_X, GRID_Y, GRID_COLUMNS = 320, 220, 4


class ImportError_(ValueError):
    """Not a ComfyUI workflow."""


def _pair(value: Any, default: tuple[float, float] = (0.0, 0.0)) -> tuple[float, float]:
    if isinstance(value, list | tuple) and len(value) >= 2:
        return float(value[0]), float(value[1])
    if isinstance(value, Mapping) and "0" in value and "1" in value:
        return float(value["0"]), float(value["1"])
    return default


def _links(data: Mapping[str, Any]) -> dict[int, tuple[str, int, str, int, str]]:
    """link id -> (origin node, origin slot, target node, target slot, type)."""
    links: dict[int, tuple[str, int, str, int, str]] = {}
    for link in data.get("links") or ():
        if isinstance(link, list | tuple) and len(link) >= 5:
            link_id, origin, origin_slot, target, target_slot = link[:5]
            kind = link[5] if len(link) > 5 else ""
        elif isinstance(link, Mapping):
            link_id, origin, origin_slot = link.get("id"), link.get("origin_id"), link.get("origin_slot")
            target, target_slot, kind = link.get("target_id"), link.get("target_slot"), link.get("type", "")
        else:
            continue
        links[int(link_id)] = (
            str(origin),
            int(origin_slot or 0),
            str(target),
            int(target_slot or 0),
            str(kind),
        )
    return links


def import_comfy(data: Any, registry: NodeRegistry) -> dict[str, Any]:
    """``{document: {graph, layout}, warnings: [{node, message}], missing: {id: ui node}}``."""
    if not isinstance(data, Mapping):
        raise ImportError_("A ComfyUI workflow is a JSON object.")
    if isinstance(data.get("nodes"), list):
        return _import_ui(data, registry)
    if data and all(isinstance(node, Mapping) and "class_type" in node for node in data.values()):
        return _import_api(data, registry)
    raise ImportError_("Not a ComfyUI workflow: expected UI format (nodes, links) or an API-format prompt.")


def _import_api(prompt: Mapping[str, Any], registry: NodeRegistry) -> dict[str, Any]:
    nodes: dict[str, Any] = {}
    layout_nodes: dict[str, Any] = {}
    warnings: list[dict[str, Any]] = []
    for index, (node_id, node) in enumerate(prompt.items()):
        node_id = str(node_id)
        class_type = node["class_type"]
        nodes[node_id] = {"type": class_type, "inputs": dict(node.get("inputs") or {})}
        place: dict[str, Any] = {
            "x": float(index % GRID_COLUMNS * GRID_X),
            "y": float(index // GRID_COLUMNS * GRID_Y),
        }
        title = (node.get("_meta") or {}).get("title")
        if isinstance(title, str) and title and title != class_type:
            place["title"] = title[:200]
        layout_nodes[node_id] = place
        if class_type not in registry:
            warnings.append(
                {"node": node_id, "message": f"Unknown node type {class_type!r}: kept as a missing node."}
            )
    document = {"graph": {"nodes": nodes}, "layout": {"nodes": layout_nodes, "groups": []}}
    return {"document": document, "warnings": warnings, "missing": {}}


def _import_ui(data: Mapping[str, Any], registry: NodeRegistry) -> dict[str, Any]:
    definitions = {
        str(sub["id"]): sub
        for sub in ((data.get("definitions") or {}).get("subgraphs") or [])
        if isinstance(sub, Mapping) and sub.get("id") and isinstance(sub.get("nodes"), list)
    }
    warnings: list[dict[str, Any]] = []
    missing: dict[str, Any] = {}
    top = _Level(data, registry, definitions, warnings, missing, "")
    graph: dict[str, Any] = {"nodes": top.graph}
    layout: dict[str, Any] = {"nodes": top.layout, "groups": top.groups}
    if definitions:
        graph["subgraphs"], layout["subgraphs"] = {}, {}
    for sub_id, sub in definitions.items():
        name = str(sub.get("name") or sub_id)
        inner = _Level(sub, registry, definitions, warnings, missing, f"{name} › ")
        inputs = []
        for index, slot in enumerate(sub.get("inputs") or []):
            entry: dict[str, Any] = {
                "name": str(slot.get("name") or f"input_{index}"),
                "type": str(slot.get("type") or "*"),
            }
            entry["targets"] = [list(target) for target in inner.targets.get(index, [])]
            if isinstance(slot.get("label"), str) and slot["label"] and slot["label"] != entry["name"]:
                entry["label"] = slot["label"][:200]
            inputs.append(entry)
        outputs = []
        for index, slot in enumerate(sub.get("outputs") or []):
            entry = {
                "name": str(slot.get("name") or f"output_{index}"),
                "type": str(slot.get("type") or "*"),
            }
            source = next((inner.origin(link) for link in slot.get("linkIds") or []), None)
            if source is None or (source[0] not in inner.graph and source[0] != BOUNDARY_IN):
                entry["source"] = None
            elif source[0] == BOUNDARY_IN:
                names = [item["name"] for item in inputs]
                entry["source"] = {"input": names[source[1]]} if source[1] < len(names) else None
            else:
                entry["source"] = [source[0], source[1]]
            outputs.append(entry)
        graph["subgraphs"][sub_id] = {
            "name": name,
            "inputs": inputs,
            "outputs": outputs,
            "nodes": inner.graph,
        }
        layout["subgraphs"][sub_id] = {"nodes": inner.layout, "groups": inner.groups}
    return {"document": {"graph": graph, "layout": layout}, "warnings": warnings, "missing": missing}


BOUNDARY_IN, BOUNDARY_OUT = "-10", "-20"  # ComfyUI's subgraph input and output nodes


class _Level:
    """One ComfyUI graph (the workflow, or one subgraph definition) imported: ``graph`` nodes, ``layout``
    nodes, ``groups``, and ``targets``: subgraph input slot -> the inner ``(node, input)`` it feeds."""

    def __init__(self, data: Mapping[str, Any], registry: NodeRegistry, definitions: Mapping[str, Any],
                 warnings: list[dict[str, Any]], missing: dict[str, Any], where: str) -> None:  # fmt: skip
        self.links = _links(data)
        self.ui_nodes = {str(node.get("id")): node for node in data["nodes"] if isinstance(node, Mapping)}
        self.graph: dict[str, Any] = {}
        self.layout: dict[str, Any] = {}
        self.targets: dict[int, list[tuple[str, str]]] = {}
        primitive_values: dict[str, Any] = {}

        def warn(node_id: str, message: str) -> None:
            warnings.append({"node": f"{where}{node_id}" if where else node_id, "message": message})

        for node_id, node in self.ui_nodes.items():
            node_type = str(node.get("type", ""))
            values = (
                list(node.get("widgets_values") or []) if isinstance(node.get("widgets_values"), list) else []
            )
            if node_type == "Reroute":
                continue
            if node_type in NOTE_TYPES:
                text = values[0] if values else ""
                warn(node_id, f"{node_type} dropped (Flowyard has no notes): {text}")
                continue
            if node_type == "PrimitiveNode":
                outputs = node.get("outputs") or []
                kind = str(outputs[0].get("type", "")) if outputs else ""
                if kind in PRIMITIVE_FOR_TYPE and values:
                    self.graph[node_id] = {"type": PRIMITIVE_FOR_TYPE[kind], "inputs": {"value": values[0]}}
                else:
                    primitive_values[node_id] = values[0] if values else None
                    warn(node_id, "Primitive node inlined into the inputs it fed.")
                    continue
            elif node_type in definitions:
                self.graph[node_id] = {
                    "type": f"subgraph:{node_type}",
                    "inputs": _instance_widgets(node, definitions[node_type], values),
                }
            else:
                entry = registry.get(node_type)
                inputs: dict[str, Any] = {}
                if entry is None:
                    missing[f"{where}{node_id}" if where else node_id] = dict(node)
                    if values:
                        inputs["widgets_values"] = {"__value__": values}
                    warn(node_id, f"Unknown node type {node_type!r}: kept as a missing node.")
                else:
                    node_warnings: list[dict[str, Any]] = []
                    inputs.update(_name_widgets(entry.schema, values, node_id, node_warnings))
                    for item in node_warnings:
                        warn(node_id, item["message"])
                self.graph[node_id] = {"type": node_type, "inputs": inputs}
            self.layout[node_id] = _place(node)
        for node_id, node in self.ui_nodes.items():
            if node_id not in self.graph:
                continue
            slots = [slot for slot in node.get("inputs") or [] if isinstance(slot, Mapping)]
            instance_of = definitions.get(str(node.get("type", "")))
            for index, slot in enumerate(slots):
                if slot.get("link") is None:
                    continue
                name = str(slot.get("name") or (slot.get("widget") or {}).get("name") or "")
                if instance_of is not None:
                    declared = instance_of.get("inputs") or []
                    if index < len(declared) and declared[index].get("name"):
                        name = str(declared[index]["name"])
                source = self.origin(slot["link"])
                if not name or source is None:
                    continue
                if source[0] == BOUNDARY_IN:
                    # Fed from the subgraph's input: the node keeps its own value as the fallback.
                    self.targets.setdefault(source[1], []).append((node_id, name))
                elif source[0] in primitive_values:
                    self.graph[node_id]["inputs"][name] = primitive_values[source[0]]
                elif source[0] in self.graph:
                    self.graph[node_id]["inputs"][name] = [source[0], source[1]]
        self.groups = [_group(group, index) for index, group in enumerate(data.get("groups") or [])]

    def origin(self, link_id: Any) -> tuple[str, int] | None:
        """Where a link really comes from, through Reroute nodes."""
        seen = set()
        while link_id is not None and int(link_id) in self.links and link_id not in seen:
            seen.add(link_id)
            source, slot = self.links[int(link_id)][:2]
            node = self.ui_nodes.get(source)
            if node is None or node.get("type") != "Reroute":
                return source, slot
            inputs = node.get("inputs") or []
            link_id = inputs[0].get("link") if inputs else None
        return None


def _instance_widgets(
    node: Mapping[str, Any], definition: Mapping[str, Any], values: list[Any]
) -> dict[str, Any]:
    """An instance's own widget values, named by its inputs, when ComfyUI stored one per widget input (with
    ``proxyWidgets`` the values live in the inner nodes, which is where we keep them anyway)."""
    declared = [str(item.get("name")) for item in definition.get("inputs") or [] if isinstance(item, Mapping)]
    slots = [slot for slot in node.get("inputs") or [] if isinstance(slot, Mapping)]
    widget_slots = [(index, slot) for index, slot in enumerate(slots) if slot.get("widget")]
    if not widget_slots or len(widget_slots) != len(values):
        return {}
    named: dict[str, Any] = {}
    for (index, _slot), value in zip(widget_slots, values, strict=True):
        if index < len(declared) and value is not None:  # a linked one keeps it as its fallback
            named[declared[index]] = value
    return named


def _place(node: Mapping[str, Any]) -> dict[str, Any]:
    x, y = _pair(node.get("pos"))
    place: dict[str, Any] = {"x": x, "y": y}
    if node.get("size") is not None:
        width, height = _pair(node.get("size"), (0.0, 0.0))
        if width > 0 and height > 0:
            place.update(width=width, height=height)
    if isinstance(node.get("title"), str) and node["title"]:
        place["title"] = node["title"][:200]
    if (node.get("flags") or {}).get("collapsed"):
        place["collapsed"] = True
    if node.get("mode") in MODES:
        place["mode"] = MODES[node["mode"]]
    return place


def _group(group: Mapping[str, Any], index: int) -> dict[str, Any]:
    bounding = list(group.get("bounding") or [0, 0, 0, 0]) + [0, 0, 0, 0]
    entry = {
        "id": str(group.get("id", f"g{index + 1}")),
        "title": str(group.get("title", ""))[:200],
        "x": float(bounding[0]),
        "y": float(bounding[1]),
        "width": max(0.0, float(bounding[2])),
        "height": max(0.0, float(bounding[3])),
    }
    if group.get("color"):
        entry["color"] = str(group["color"])[:50]
    return entry


def _name_widgets(
    schema: NodeSchema, values: list[Any], node_id: str, warnings: list[dict[str, Any]]
) -> dict[str, Any]:
    """Positional ``widgets_values`` as named inputs."""
    named: dict[str, Any] = {}
    position = 0
    hidden: set[str] = set()  # inputs of a dynamic combo's other options: not in widgets_values
    for spec in widget_inputs(schema):
        if spec.name in hidden:
            continue
        if position >= len(values):
            break
        named[spec.name] = values[position]
        position += 1
        shows = (spec.widget or {}).get("shows")
        if shows:
            chosen = set(shows.get(named[spec.name], ()))
            hidden |= {name for names in shows.values() for name in names} - chosen
        if position < len(values) and (
            (
                isinstance(values[position], str)
                and values[position] in CONTROL_VALUES
                and (is_seed_like(spec) or spec.type == "INT")
            )
            # Older ComfyUI saved control_after_generate as a boolean (ComfyUI's own default.json holds `true`).
            or (isinstance(values[position], bool) and is_seed_like(spec))
        ):
            position += 1  # the editor's control_after_generate value, not an input
    if position < len(values):
        warnings.append(
            {"node": node_id, "message": f"{len(values) - position} extra widget value(s) ignored."}
        )
    return named


def export_comfy(graph: Mapping[str, Any], layout: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A document's graph as ComfyUI's API format (subgraphs flattened: inner nodes get ids ``"12:34"``)."""
    places = (layout or {}).get("nodes") or {}
    if has_subgraphs(graph):
        try:
            flat = flatten(graph)
        except GraphFormatError as exc:
            from backend.accounts.exceptions import ApiError  # here: import stays usable without Django

            raise ApiError(
                f"The graph cannot be exported: {exc}", [e.to_json() for e in exc.errors]
            ) from None
        modes = _flat_modes(graph, layout or {}, flat["nodes"])
        graph = flat
    else:
        modes = {node_id: (places.get(node_id) or {}).get("mode") for node_id in graph.get("nodes") or {}}
    nodes = graph.get("nodes") or {}

    def resolve(value: Any, seen: frozenset[str] = frozenset()) -> Any:
        """A link, routed around bypassed nodes (to their first linked input); None when it cannot be."""
        source = str(value[0])
        if modes.get(source) == "mute" or source not in nodes or source in seen:
            return None
        if modes.get(source) != "bypass":
            return [source, int(value[1])]
        for upstream in (nodes[source].get("inputs") or {}).values():
            if _is_link(upstream):
                return resolve(upstream, seen | {source})
        return None

    prompt: dict[str, Any] = {}
    for node_id, node in nodes.items():
        if modes.get(node_id) in ("mute", "bypass"):
            continue
        inputs: dict[str, Any] = {}
        for name, value in (node.get("inputs") or {}).items():
            if name == "widgets_values":
                continue
            if _is_link(value):
                routed = resolve(value)
                if routed is not None:
                    inputs[name] = routed
            else:
                inputs[name] = value
        title = (places.get(node_id) or {}).get("title") or node.get("type")
        prompt[node_id] = {"class_type": node.get("type"), "inputs": inputs, "_meta": {"title": title}}
    return prompt


def _flat_modes(graph: Mapping[str, Any], layout: Mapping[str, Any], flat_ids: Any) -> dict[str, Any]:
    """Mute/bypass of each flattened node: muted if it or an instance around it is muted, else bypassed if
    it or one around it is."""
    layouts: dict[str | None, Any] = {None: layout.get("nodes") or {}}
    layouts.update(
        {sub_id: (sub or {}).get("nodes") or {} for sub_id, sub in (layout.get("subgraphs") or {}).items()}
    )
    nodes_of: dict[str | None, Any] = {None: graph.get("nodes") or {}}
    nodes_of.update(
        {sub_id: (sub or {}).get("nodes") or {} for sub_id, sub in (graph.get("subgraphs") or {}).items()}
    )
    modes: dict[str, Any] = {}
    for flat_id in flat_ids:
        level: str | None = None
        found: set[Any] = set()
        for part in flat_id.split(PATH_SEPARATOR):
            found.add((layouts.get(level, {}).get(part) or {}).get("mode"))
            level = subgraph_id(str((nodes_of.get(level, {}).get(part) or {}).get("type", ""))) or level
        modes[flat_id] = "mute" if "mute" in found else "bypass" if "bypass" in found else None
    return modes


def _is_link(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], int)
        and not isinstance(value[1], bool)
    )
