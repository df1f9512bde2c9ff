// Editor state ⇄ workflow document {graph, layout} (docs/api.md), and the graph sent to run.
import type { GraphJson, LayoutJson, LayoutNode, WorkflowDocument } from "../api/schemas";
import {
  emptyGraph,
  inputEdge,
  makeEdge,
  type Catalog,
  type EditorEdge,
  type EditorGraph,
  type EditorNode,
} from "./graph-model";
import { isCompatibleSafe } from "./type-compat";

/** `[node_id, output_index]` with a string and an integer: how graph JSON writes a link. */
export function looksLikeLink(value: unknown): value is [string, number] {
  return (
    Array.isArray(value) &&
    value.length === 2 &&
    typeof value[0] === "string" &&
    typeof value[1] === "number" &&
    Number.isInteger(value[1])
  );
}

/** A constant as written in graph JSON: one that would look like a link is wrapped as {"__value__": ...}. */
export function encodeConstant(value: unknown): unknown {
  return looksLikeLink(value) ? { __value__: value } : value;
}

export function decodeConstant(value: unknown): unknown {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === "__value__") return (value as { __value__: unknown }).__value__;
  }
  return value;
}

function nodeInputs(node: EditorNode, graph: EditorGraph, catalog: Catalog, link: (e: EditorEdge) => [string, number] | null) {
  const inputs: Record<string, unknown> = {};
  const schema = catalog.get(node.type);
  if (!schema) {
    // Unknown type: keep what was loaded, constants and links alike.
    for (const [name, value] of Object.entries(node.values)) inputs[name] = encodeConstant(value);
    for (const e of graph.edges) {
      if (e.target !== node.id) continue;
      const resolved = link(e);
      if (resolved) inputs[e.targetInput] = resolved;
      else delete inputs[e.targetInput];
    }
    return inputs;
  }
  for (const spec of schema.inputs) {
    const edge = inputEdge(graph, node.id, spec.name);
    if (edge) {
      const resolved = link(edge);
      if (resolved) inputs[spec.name] = resolved;
      continue;
    }
    if (node.sockets.includes(spec.name)) continue; // converted to a socket and not linked: no value
    if (spec.name in node.values && node.values[spec.name] !== undefined) {
      inputs[spec.name] = encodeConstant(node.values[spec.name]);
    }
  }
  return inputs;
}

/** The workflow document the editor saves. Bypass/mute, titles and positions live in the layout. */
export function toDocument(graph: EditorGraph, catalog: Catalog): { graph: GraphJson; layout: LayoutJson } {
  const nodes: GraphJson["nodes"] = {};
  const layoutNodes: Record<string, LayoutNode> = {};
  for (const node of Object.values(graph.nodes)) {
    nodes[node.id] = {
      type: node.type,
      inputs: nodeInputs(node, graph, catalog, (e) => [e.source, e.sourceOutput]),
    };
    const entry: LayoutNode = { x: Math.round(node.position.x), y: Math.round(node.position.y) };
    if (node.width !== undefined) entry.width = node.width;
    if (node.height !== undefined) entry.height = node.height;
    if (node.collapsed) entry.collapsed = true;
    if (node.mode !== "normal") entry.mode = node.mode;
    if (node.title) entry.title = node.title;
    layoutNodes[node.id] = entry;
  }
  const graphJson: GraphJson = graph.outputs ? { nodes, outputs: [...graph.outputs] } : { nodes };
  const layout: LayoutJson = { nodes: layoutNodes, groups: graph.groups.map((g) => ({ ...g })) };
  if (graph.viewport) layout.viewport = { ...graph.viewport };
  return { graph: graphJson, layout };
}

/** Load a workflow document. Nodes missing from the layout are placed on a grid. */
export function fromDocument(doc: WorkflowDocument, catalog: Catalog): EditorGraph {
  const graph = emptyGraph();
  const layout = doc.layout;
  const edges: EditorEdge[] = [];
  let unplaced = 0;
  for (const [id, raw] of Object.entries(doc.graph.nodes)) {
    const schema = catalog.get(raw.type);
    const place = layout?.nodes[id];
    const position = place ? { x: place.x, y: place.y } : { x: (unplaced % 4) * 320, y: Math.floor(unplaced / 4) * 260 };
    if (!place) unplaced += 1;
    const values: Record<string, unknown> = {};
    const sockets: string[] = [];
    for (const [name, value] of Object.entries(raw.inputs)) {
      if (looksLikeLink(value)) {
        edges.push(makeEdge(value[0], value[1], id, name));
        const spec = schema?.inputs.find((i) => i.name === name);
        if (spec?.mode === "both") sockets.push(name);
      } else {
        values[name] = decodeConstant(value);
      }
    }
    if (schema) {
      // Widgets the document leaves out start at their defaults, as a new node would.
      for (const spec of schema.inputs) {
        if (spec.widget && spec.mode !== "socket" && !(spec.name in values) && spec.has_default) {
          values[spec.name] = spec.default;
        }
      }
    }
    const node: EditorNode = { id, type: raw.type, position, values, sockets, mode: place?.mode ?? "normal" };
    if (place?.title) node.title = place.title;
    if (place?.width !== undefined) node.width = place.width;
    if (place?.height !== undefined) node.height = place.height;
    if (place?.collapsed) node.collapsed = true;
    graph.nodes[id] = node;
  }
  graph.edges = edges.filter((e) => e.source in graph.nodes);
  graph.groups = layout?.groups.map((g) => ({ ...g })) ?? [];
  if (layout?.viewport) graph.viewport = { ...layout.viewport };
  if (doc.graph.outputs) graph.outputs = [...doc.graph.outputs];
  return graph;
}

/**
 * The graph JSON to run. The engine knows nothing of bypass and mute: muted nodes are dropped (links from
 * them disappear), and bypassed nodes are dropped with each of their outputs fed straight through by the
 * first linked input whose type is compatible with that output (ComfyUI's rule); no such input drops the link.
 */
export function exportGraphForRun(graph: EditorGraph, catalog: Catalog): GraphJson {
  const resolve = (source: string, output: number, seen: Set<string>): [string, number] | null => {
    const node = graph.nodes[source];
    if (!node || node.mode === "mute" || seen.has(source)) return null;
    if (node.mode === "normal") return [source, output];
    const schema = catalog.get(node.type);
    const outType = schema?.outputs[output]?.type;
    if (!schema || !outType) return null;
    seen.add(source);
    for (const spec of schema.inputs) {
      const edge = inputEdge(graph, source, spec.name);
      if (edge && isCompatibleSafe(spec.type, outType)) return resolve(edge.source, edge.sourceOutput, seen);
    }
    return null;
  };
  const nodes: GraphJson["nodes"] = {};
  for (const node of Object.values(graph.nodes)) {
    if (node.mode !== "normal") continue;
    nodes[node.id] = {
      type: node.type,
      inputs: nodeInputs(node, graph, catalog, (e) => resolve(e.source, e.sourceOutput, new Set())),
    };
  }
  if (!graph.outputs) return { nodes };
  return { nodes, outputs: graph.outputs.filter((id) => id in nodes) };
}
