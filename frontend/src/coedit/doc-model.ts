// The workflow document {graph, layout} as a Yjs document, both ways: the same mapping as
// backend/coedit/document.py (docs/architecture.md, "Live co-editing"). Root shared types:
//   nodes: Y.Map node id -> Y.Map { type, inputs: Y.Map name -> value, x, y, width, height, collapsed, mode, title }
//   groups, notes, reroutes: Y.Array of Y.Map (one key per field)
//   app: Y.Map { inputs: Y.Array<Y.Map>, outputs: Y.Array<Y.Map> }
//   subgraphs: Y.Map id -> Y.Map { nodes: Y.Map as the root's, graph: the definition less its nodes,
//              layout: the subgraph's layout less its nodes } (read too: a whole {graph, layout} value, as
//              drafts written before subgraphs merged node by node hold)
//   meta: Y.Map { schema, outputs, viewport, sections }
// Every leaf is stored as JSON text (pycrdt reads every Yjs number as a float and writes big integers as BigInt):
// an int stays an int on the server and a seed of 2**60 stays exact there.
import * as Y from "yjs";
import { nextInSpace } from "../editor/graph-model";
import { clientIdSpace } from "./ids";

export const SCHEMA = 1;
const NODE_LAYOUT_KEYS = ["x", "y", "width", "height", "collapsed", "mode", "title"] as const;
const ITEM_LISTS = ["groups", "notes", "reroutes"] as const;

type Json = unknown;
type JsonObject = Record<string, Json>;
/** A workflow document as JSON (graph and layout as the API carries them; validated by the server on save). */
export interface JsonDocument {
  graph: JsonObject & { nodes: Record<string, { type: string; inputs: JsonObject }> };
  layout: JsonObject;
}

export interface DocRoots {
  nodes: Y.Map<Y.Map<unknown>>;
  groups: Y.Array<Y.Map<string>>;
  notes: Y.Array<Y.Map<string>>;
  reroutes: Y.Array<Y.Map<string>>;
  app: Y.Map<Y.Array<Y.Map<string>>>;
  subgraphs: Y.Map<Y.Map<unknown> | string>;
  meta: Y.Map<string>;
}

const text = (value: Json): string => JSON.stringify(value);
const value = (stored: unknown): Json => (typeof stored === "string" ? JSON.parse(stored) : stored);
const isObject = (v: unknown): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);

function itemMap(item: JsonObject): Y.Map<string> {
  const map = new Y.Map<string>();
  for (const [key, v] of Object.entries(item)) if (v !== undefined) map.set(key, text(v));
  return map;
}

function itemOf(map: unknown): JsonObject {
  const out: JsonObject = {};
  if (map instanceof Y.Map) for (const [key, v] of map.entries()) out[key] = value(v);
  return out;
}

export function roots(doc: Y.Doc): DocRoots {
  return {
    nodes: doc.getMap("nodes"),
    groups: doc.getArray("groups"),
    notes: doc.getArray("notes"),
    reroutes: doc.getArray("reroutes"),
    app: doc.getMap("app"),
    subgraphs: doc.getMap("subgraphs"),
    meta: doc.getMap("meta"),
  };
}

/** A node's Y.Map (not yet in a document); `type` null for a layout entry without a graph node. */
export function nodeMap(type: string | null, inputs: JsonObject, layout: JsonObject | undefined): Y.Map<unknown> {
  const map = new Y.Map<unknown>();
  if (type !== null) {
    map.set("type", text(type));
    const inputMap = new Y.Map<string>();
    for (const [name, v] of Object.entries(inputs)) if (v !== undefined) inputMap.set(name, text(v));
    map.set("inputs", inputMap);
  }
  for (const key of NODE_LAYOUT_KEYS) {
    const v = layout?.[key];
    if (v !== undefined && v !== null) map.set(key, text(v));
  }
  return map;
}

/** Nodes (graph nodes and their layout entries, as the root's or a subgraph's) into an empty Y.Map. */
function fillNodes(target: Y.Map<Y.Map<unknown>>, graphNodes: unknown, layoutNodes: unknown): void {
  const nodes = (isObject(graphNodes) ? graphNodes : {}) as Record<string, { type: string; inputs?: JsonObject }>;
  const entries = (isObject(layoutNodes) ? layoutNodes : {}) as Record<string, JsonObject>;
  for (const [id, node] of Object.entries(nodes)) target.set(id, nodeMap(node.type, node.inputs ?? {}, entries[id]));
  for (const [id, entry] of Object.entries(entries)) if (!(id in nodes)) target.set(id, nodeMap(null, {}, entry));
}

/** The graph nodes and layout entries of a nodes Y.Map (the root's or a subgraph's). */
function readNodes(source: Y.Map<unknown>): {
  nodes: JsonDocument["graph"]["nodes"];
  layout: Record<string, JsonObject>;
} {
  const nodes: JsonDocument["graph"]["nodes"] = {};
  const layout: Record<string, JsonObject> = {};
  for (const [id, node] of source.entries()) {
    if (!(node instanceof Y.Map)) continue;
    if (node.has("type")) nodes[id] = { type: value(node.get("type")) as string, inputs: itemOf(node.get("inputs")) };
    const entry: JsonObject = {};
    for (const key of NODE_LAYOUT_KEYS) if (node.has(key)) entry[key] = value(node.get(key));
    if ("x" in entry && "y" in entry) layout[id] = entry;
  }
  return { nodes, layout };
}

const withoutNodes = (v: unknown): JsonObject | null => {
  if (!isObject(v)) return null;
  const { nodes: _nodes, ...rest } = v;
  return rest;
};

/** A subgraph's Y.Map (not yet in a document): its nodes merge one by one as the root's do; the rest of its
 * definition (name, inputs, outputs) and of its layout (groups...) are one value each. */
export function subgraphMap(definition: unknown, layout: unknown): Y.Map<unknown> {
  const map = new Y.Map<unknown>();
  const nodes = new Y.Map<Y.Map<unknown>>();
  fillNodes(nodes, isObject(definition) ? definition.nodes : undefined, isObject(layout) ? layout.nodes : undefined);
  map.set("nodes", nodes);
  map.set("graph", text(withoutNodes(definition)));
  map.set("layout", text(withoutNodes(layout)));
  return map;
}

/** A subgraph entry as `{graph, layout}` (each null when absent), from either way of storing it. */
export function subgraphOf(stored: unknown): { graph: JsonObject | null; layout: JsonObject | null } {
  if (!(stored instanceof Y.Map)) {
    const entry = (value(stored) ?? {}) as { graph?: JsonObject | null; layout?: JsonObject | null };
    return { graph: entry.graph ?? null, layout: entry.layout ?? null };
  }
  const graphRest = value(stored.get("graph")) as JsonObject | null;
  const layoutRest = value(stored.get("layout")) as JsonObject | null;
  const nodes = stored.get("nodes");
  const read = nodes instanceof Y.Map ? readNodes(nodes) : { nodes: {}, layout: {} };
  return {
    graph: graphRest ? { ...graphRest, nodes: read.nodes } : null,
    layout: layoutRest ? { ...layoutRest, nodes: read.layout } : null,
  };
}

/** Write the JSON document into an empty `doc` in one transaction. */
export function fillDoc(doc: Y.Doc, document: JsonDocument, origin: unknown = "load"): void {
  const { graph } = document;
  const layout = document.layout ?? {};
  const parts = roots(doc);
  doc.transact(() => {
    fillNodes(parts.nodes, graph.nodes, layout.nodes);
    const sections: string[] = [];
    for (const name of ITEM_LISTS) {
      const items = layout[name];
      if (!Array.isArray(items)) continue;
      sections.push(name);
      parts[name].push(items.map((item) => itemMap(item as JsonObject)));
    }
    const app = layout.app;
    if (isObject(app)) {
      for (const key of ["inputs", "outputs"] as const) {
        const list = new Y.Array<Y.Map<string>>();
        list.push(((app[key] as JsonObject[] | undefined) ?? []).map(itemMap));
        parts.app.set(key, list);
      }
    }
    const definitions = (graph.subgraphs ?? {}) as JsonObject;
    const subLayouts = layout.subgraphs as JsonObject | undefined;
    for (const id of new Set([...Object.keys(definitions), ...Object.keys(subLayouts ?? {})])) {
      parts.subgraphs.set(id, subgraphMap(definitions[id], subLayouts?.[id]));
    }
    parts.meta.set("schema", text(SCHEMA));
    parts.meta.set("sections", text(subLayouts !== undefined ? [...sections, "subgraphs"] : sections));
    if ("outputs" in graph) parts.meta.set("outputs", text(graph.outputs));
    if (layout.viewport !== undefined && layout.viewport !== null) parts.meta.set("viewport", text(layout.viewport));
  }, origin);
}

export function docFromDocument(document: JsonDocument): Y.Doc {
  const doc = new Y.Doc();
  fillDoc(doc, document);
  return doc;
}

/** The JSON document a Y.Doc holds (not validated: the server's parse_document does that on save). */
export function documentFromDoc(doc: Y.Doc): JsonDocument {
  const parts = roots(doc);
  const sections = new Set((value(parts.meta.get("sections") ?? "[]") as string[] | null) ?? []);
  const { nodes, layout: layoutNodes } = readNodes(parts.nodes as Y.Map<unknown>);
  const graph: JsonDocument["graph"] = { nodes };
  if (parts.meta.has("outputs")) graph.outputs = value(parts.meta.get("outputs"));
  const layout: JsonObject = { nodes: layoutNodes, groups: parts.groups.toArray().map(itemOf) };
  for (const name of ["notes", "reroutes"] as const) {
    const items = parts[name].toArray().map(itemOf);
    if (items.length || sections.has(name)) layout[name] = items;
  }
  if (parts.meta.has("viewport")) layout.viewport = value(parts.meta.get("viewport"));
  if (parts.app.has("inputs") || parts.app.has("outputs")) {
    const list = (key: string) => {
      const items = parts.app.get(key);
      return items instanceof Y.Array ? items.toArray().map(itemOf) : [];
    };
    layout.app = { inputs: list("inputs"), outputs: list("outputs") };
  }
  const definitions: JsonObject = {};
  const subLayouts: JsonObject = {};
  for (const [id, stored] of parts.subgraphs.entries()) {
    const entry = subgraphOf(stored);
    if (entry.graph !== null) definitions[id] = entry.graph;
    if (entry.layout !== null) subLayouts[id] = entry.layout;
  }
  if (Object.keys(definitions).length) graph.subgraphs = definitions;
  if (Object.keys(subLayouts).length || sections.has("subgraphs")) layout.subgraphs = subLayouts;
  return { graph, layout };
}

function nodeOf(doc: Y.Doc, nodeId: string): Y.Map<unknown> | null {
  const node = roots(doc).nodes.get(nodeId);
  return node instanceof Y.Map ? node : null;
}

/** Set one input (a widget constant, or a link `[node, output]`); false when the node is gone (deleted by
 * someone else: the editor says so rather than bring it back). */
export function setInput(doc: Y.Doc, nodeId: string, name: string, v: Json, origin?: unknown): boolean {
  const inputs = nodeOf(doc, nodeId)?.get("inputs");
  if (!(inputs instanceof Y.Map)) return false;
  doc.transact(() => (v === undefined ? inputs.delete(name) : inputs.set(name, text(v))), origin);
  return true;
}

/** Set layout fields of a node (position, size, title, mode...); an undefined value removes the field. */
export function setNodeLayout(doc: Y.Doc, nodeId: string, fields: JsonObject, origin?: unknown): boolean {
  const node = nodeOf(doc, nodeId);
  if (!node) return false;
  doc.transact(() => {
    for (const [key, v] of Object.entries(fields)) {
      if (v === undefined || v === null) node.delete(key);
      else node.set(key, text(v));
    }
  }, origin);
  return true;
}

export function addNode(
  doc: Y.Doc,
  nodeId: string,
  type: string,
  inputs: JsonObject,
  layout: JsonObject,
  origin?: unknown,
): void {
  doc.transact(() => roots(doc).nodes.set(nodeId, nodeMap(type, inputs, layout)), origin);
}

export function removeNode(doc: Y.Doc, nodeId: string, origin?: unknown): void {
  doc.transact(() => roots(doc).nodes.delete(nodeId), origin);
}

/** A node id no one else will take: the next number in this client's own range (ids.ts), an integer as ComfyUI's. */
export function newNodeId(doc: Y.Doc): string {
  return String(nextInSpace([...roots(doc).nodes.keys()].map(Number), clientIdSpace(doc.clientID)));
}
