// Editor state ⇄ workflow document {graph, layout} (docs/api.md), and the graph sent to run.
import { liveReroutes } from "./canvas-items";
import type { GraphJson, LayoutJson, LayoutNode, WorkflowDocument } from "../api/schemas";
import { pruneSection } from "../apps/app-section";
import {
  emptyGraph,
  inputEdge,
  makeEdge,
  type Catalog,
  type EditorEdge,
  type EditorGraph,
  type EditorNode,
} from "./graph-model";
import { withSubgraphCatalog, type EditorSubgraph } from "./subgraphs";
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

function nodeInputs(
  node: EditorNode,
  graph: EditorGraph,
  catalog: Catalog,
  link: (e: EditorEdge) => [string, number] | null,
) {
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
export function toDocument(graph: EditorGraph, baseCatalog: Catalog): { graph: GraphJson; layout: LayoutJson } {
  const catalog = withSubgraphCatalog(baseCatalog, graph.subgraphs);
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
  if (graph.notes?.length) layout.notes = graph.notes.map((n) => ({ ...n }));
  const reroutes = liveReroutes(graph);
  if (reroutes.length) layout.reroutes = reroutes;
  const app = graph.app && pruneSection(graph.app, new Set(Object.keys(graph.nodes)));
  if (app && (app.inputs.length || app.outputs.length)) layout.app = structuredClone(app);
  if (graph.subgraphs && Object.keys(graph.subgraphs).length) {
    graphJson.subgraphs = {};
    layout.subgraphs = {};
    for (const [id, def] of Object.entries(graph.subgraphs)) {
      const inner = toDocument(def.graph, catalog);
      graphJson.subgraphs[id] = {
        name: def.name,
        inputs: def.inputs.map((i) => ({
          name: i.name,
          type: i.type,
          targets: i.targets.map(([n, x]): [string, string] => [n, x]),
          ...(i.label ? { label: i.label } : {}),
        })),
        outputs: def.outputs.map((o) => ({ name: o.name, type: o.type, source: o.source })),
        nodes: inner.graph.nodes,
      };
      layout.subgraphs[id] = { nodes: inner.layout.nodes, groups: inner.layout.groups };
    }
  }
  return { graph: graphJson, layout };
}

/** Load a workflow document. Nodes missing from the layout are placed on a grid. */
export function fromDocument(doc: WorkflowDocument, baseCatalog: Catalog): EditorGraph {
  const graph = emptyGraph();
  const defs = subgraphsFromDocument(doc);
  const catalog = withSubgraphCatalog(baseCatalog, defs);
  for (const [id, def] of Object.entries(defs ?? {})) {
    const layout = doc.layout?.subgraphs?.[id];
    def.graph = fromDocument(
      {
        graph: { nodes: doc.graph.subgraphs?.[id]?.nodes ?? {} },
        layout: { nodes: layout?.nodes ?? {}, groups: layout?.groups ?? [] },
      },
      catalog,
    );
  }
  if (defs) graph.subgraphs = defs;
  const layout = doc.layout;
  const edges: EditorEdge[] = [];
  let unplaced = 0;
  for (const [id, raw] of Object.entries(doc.graph.nodes)) {
    const schema = catalog.get(raw.type);
    const place = layout?.nodes[id];
    const position = place
      ? { x: place.x, y: place.y }
      : { x: (unplaced % 4) * 320, y: Math.floor(unplaced / 4) * 260 };
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
  if (layout?.notes?.length) graph.notes = layout.notes.map((n) => ({ ...n }));
  if (layout?.reroutes?.length)
    graph.reroutes = layout.reroutes.map((r) => ({
      ...r,
      targets: r.targets.map(([t, i]): [string, string] => [t, i]),
    }));
  if (doc.graph.outputs) graph.outputs = [...doc.graph.outputs];
  if (layout?.app) graph.app = structuredClone(layout.app);
  return graph;
}

/** The document's subgraph definitions with empty insides (fromDocument fills them). */
function subgraphsFromDocument(doc: WorkflowDocument): Record<string, EditorSubgraph> | undefined {
  const json = doc.graph.subgraphs;
  if (!json || !Object.keys(json).length) return undefined;
  const defs: Record<string, EditorSubgraph> = {};
  for (const [id, def] of Object.entries(json)) {
    defs[id] = {
      name: def.name,
      inputs: def.inputs.map((i) => ({
        name: i.name,
        type: i.type,
        targets: i.targets.map(([n, x]): [string, string] => [n, x]),
        ...(i.label ? { label: i.label } : {}),
      })),
      outputs: def.outputs.map((o) => ({ name: o.name, type: o.type, source: o.source })),
      graph: emptyGraph(),
    };
  }
  return defs;
}

/**
 * The graph JSON to run. The engine knows nothing of bypass and mute: muted nodes are dropped (links from
 * them disappear), and bypassed nodes are dropped with each of their outputs fed straight through by the
 * first linked input whose type is compatible with that output (ComfyUI's rule); no such input drops the link.
 */
export function exportGraphForRun(graph: EditorGraph, baseCatalog: Catalog): GraphJson {
  const catalog = withSubgraphCatalog(baseCatalog, graph.subgraphs);
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
  const result: GraphJson = graph.outputs ? { nodes, outputs: graph.outputs.filter((id) => id in nodes) } : { nodes };
  if (graph.subgraphs && Object.keys(graph.subgraphs).length) {
    // Each definition with its own muted and bypassed nodes applied; its layout stays behind.
    const saved = toDocument({ ...emptyGraph(), subgraphs: graph.subgraphs }, catalog).graph.subgraphs ?? {};
    result.subgraphs = {};
    for (const [id, def] of Object.entries(graph.subgraphs)) {
      const inner = exportGraphForRun(def.graph, catalog).nodes;
      const json = saved[id]!;
      result.subgraphs[id] = {
        ...json,
        inputs: json.inputs.map((i) => ({ ...i, targets: i.targets.filter(([n]) => n in inner) })),
        outputs: json.outputs.map((o) => ({
          ...o,
          source: Array.isArray(o.source) && !(o.source[0] in inner) ? null : o.source,
        })),
        nodes: inner,
      };
    }
  }
  return result;
}
