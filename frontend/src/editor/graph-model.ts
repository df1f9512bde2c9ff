// The editor's graph model: nodes with widget values, links between typed sockets, per-node mode and title.
// Every function is pure: it returns a new graph and never mutates its argument (history keeps snapshots).
import type { InputSpec, LayoutGroup, LayoutNote, LayoutReroute, NodeSchema, SeedControl } from "../api/schemas";
import type { AppSection } from "../apps/app-section";
import type { EditorSubgraph } from "./subgraphs";

export type NodeMode = "normal" | "bypass" | "mute";

export interface Position {
  x: number;
  y: number;
}

export interface Viewport {
  x: number;
  y: number;
  zoom: number;
}

export interface EditorNode {
  id: string;
  type: string;
  position: Position;
  /** Constant values of widget inputs (kept while an input is converted to a socket, restored on convert back). */
  values: Record<string, unknown>;
  /** Inputs of mode "both" currently shown as sockets instead of widgets. */
  sockets: string[];
  mode: NodeMode;
  title?: string;
  width?: number;
  height?: number;
  collapsed?: boolean;
  /** What a seed widget does after each run (editor-only; defaults to the widget's control_after_run). */
  seedControl?: Record<string, SeedControl>;
}

/** A link from output `sourceOutput` of node `source` to input `targetInput` of node `target`. */
export interface EditorEdge {
  id: string;
  source: string;
  sourceOutput: number;
  target: string;
  targetInput: string;
}

export interface EditorGraph {
  nodes: Record<string, EditorNode>;
  edges: EditorEdge[];
  groups: LayoutGroup[];
  viewport?: Viewport;
  /** The graph JSON's optional `outputs` (node ids a run must compute), kept as loaded. */
  outputs?: string[];
  /** Subgraph definitions by id (root graph; an open subgraph's view carries them too). See subgraphs.ts. */
  subgraphs?: Record<string, EditorSubgraph>;
  /** Canvas notes (canvas-items.ts): never run. */
  notes?: LayoutNote[];
  /** Waypoints links are drawn through (canvas-items.ts). */
  reroutes?: LayoutReroute[];
  /** What a published app exposes (root graph only; apps/app-section.ts). */
  app?: AppSection;
}

export type Catalog = ReadonlyMap<string, NodeSchema>;

export function makeCatalog(schemas: readonly NodeSchema[]): Catalog {
  return new Map(schemas.map((s) => [s.type, s]));
}

export function emptyGraph(): EditorGraph {
  return { nodes: {}, edges: [], groups: [] };
}

export function edgeId(source: string, sourceOutput: number, target: string, targetInput: string): string {
  return `${source}:${sourceOutput}->${target}:${targetInput}`;
}

export function makeEdge(source: string, sourceOutput: number, target: string, targetInput: string): EditorEdge {
  return { id: edgeId(source, sourceOutput, target, targetInput), source, sourceOutput, target, targetInput };
}

/** Where new ids are numbered: `first`..`last`. Alone, the editor numbers from 1 up as ComfyUI does; co-editing
 * gives each tab a range of its own (coedit/ids.ts), so two people adding nodes at once never take the same id. */
export interface IdSpace {
  readonly first: number;
  readonly last: number;
}
export const WHOLE_ID_SPACE: IdSpace = { first: 1, last: Number.MAX_SAFE_INTEGER };

/** The number after the highest of `numbers` inside `space` (its first when it holds none yet). */
export function nextInSpace(numbers: Iterable<number>, space: IdSpace): number {
  let max = space.first - 1;
  for (const n of numbers) if (Number.isInteger(n) && n >= space.first && n <= space.last && n > max) max = n;
  if (max >= space.last) throw new Error("No ids left in this editor's range: reload the page for a new one.");
  return max + 1;
}

/** The next free numeric id ("1", "2", ... or the next in `space`), as ComfyUI numbers nodes. */
export function nextNodeId(graph: EditorGraph, taken: Iterable<string> = [], space: IdSpace = WHOLE_ID_SPACE): string {
  return String(nextInSpace([...Object.keys(graph.nodes), ...taken].map(Number), space));
}

/** The value a widget starts with: the declared default, else a sensible one for its kind. */
export function defaultWidgetValue(spec: InputSpec): unknown {
  if (spec.has_default && spec.default !== undefined) return spec.default;
  const widget = spec.widget;
  if (!widget) return undefined;
  switch (widget.kind) {
    case "number":
      return widget.min ?? 0;
    case "select":
      return widget.options?.[0] ?? "";
    case "text":
      return "";
    case "toggle":
      return false;
    case "seed":
      return widget.min;
    case "upload":
      return "";
    case "color":
      return "#000000";
  }
}

export function createNode(schema: NodeSchema, id: string, position: Position): EditorNode {
  const values: Record<string, unknown> = {};
  for (const spec of schema.inputs) {
    if (spec.widget && spec.mode !== "socket") {
      const value = defaultWidgetValue(spec);
      if (value !== undefined) values[spec.name] = value;
    }
  }
  return { id, type: schema.type, position, values, sockets: [], mode: "normal" };
}

/** True when the input shows a socket (a handle a link may attach to) on this node. */
export function isSocket(spec: InputSpec, node: Pick<EditorNode, "sockets">): boolean {
  return spec.mode === "socket" || (spec.mode === "both" && node.sockets.includes(spec.name));
}

/**
 * Inputs a dynamic combo hides on this node: those that belong to its other options (ComfyUI's DynamicCombo,
 * e.g. ResizeImageMaskNode's resize_type shows width/height/crop only for "scale dimensions").
 */
export function hiddenByChoice(schema: Pick<NodeSchema, "inputs">, values: Record<string, unknown>): Set<string> {
  const hidden = new Set<string>();
  for (const spec of schema.inputs) {
    const widget = spec.widget;
    if (widget?.kind !== "select" || !widget.shows) continue;
    const chosen = String(values[spec.name] ?? spec.default ?? "");
    const shown = new Set(widget.shows[chosen] ?? []);
    for (const names of Object.values(widget.shows)) for (const name of names) if (!shown.has(name)) hidden.add(name);
  }
  return hidden;
}

/** True when the input shows its widget on this node. */
export function showsWidget(spec: InputSpec, node: Pick<EditorNode, "sockets">): boolean {
  return Boolean(spec.widget) && spec.mode !== "socket" && !node.sockets.includes(spec.name);
}

export function addNode(graph: EditorGraph, node: EditorNode): EditorGraph {
  return { ...graph, nodes: { ...graph.nodes, [node.id]: node } };
}

export function updateNode(graph: EditorGraph, id: string, patch: (node: EditorNode) => EditorNode): EditorGraph {
  const node = graph.nodes[id];
  if (!node) return graph;
  const next = patch(node);
  return next === node ? graph : { ...graph, nodes: { ...graph.nodes, [id]: next } };
}

export function removeNodes(graph: EditorGraph, ids: Iterable<string>): EditorGraph {
  const gone = new Set(ids);
  if (![...gone].some((id) => id in graph.nodes)) return graph;
  const nodes: Record<string, EditorNode> = {};
  for (const [id, node] of Object.entries(graph.nodes)) if (!gone.has(id)) nodes[id] = node;
  const edges = graph.edges.filter((e) => !gone.has(e.source) && !gone.has(e.target));
  const outputs = graph.outputs?.filter((id) => !gone.has(id));
  return { ...graph, nodes, edges, ...(outputs ? { outputs } : {}) };
}

export function removeEdges(graph: EditorGraph, ids: Iterable<string>): EditorGraph {
  const gone = new Set(ids);
  const edges = graph.edges.filter((e) => !gone.has(e.id));
  return edges.length === graph.edges.length ? graph : { ...graph, edges };
}

export function moveNodes(graph: EditorGraph, positions: Record<string, Position>): EditorGraph {
  let next = graph;
  for (const [id, position] of Object.entries(positions)) {
    next = updateNode(next, id, (n) =>
      n.position.x === position.x && n.position.y === position.y ? n : { ...n, position },
    );
  }
  return next;
}

export function setWidgetValue(graph: EditorGraph, id: string, input: string, value: unknown): EditorGraph {
  return updateNode(graph, id, (n) =>
    n.values[input] === value ? n : { ...n, values: { ...n.values, [input]: value } },
  );
}

export function setTitle(graph: EditorGraph, id: string, title: string): EditorGraph {
  return updateNode(graph, id, (n) => {
    const { title: _old, ...rest } = n;
    return title.trim() ? { ...rest, title: title.trim() } : rest;
  });
}

export function setCollapsed(graph: EditorGraph, id: string, collapsed: boolean): EditorGraph {
  return updateNode(graph, id, (n) => ({ ...n, collapsed }));
}

/** Set `mode` on the nodes; when every one of them already has it, set them back to normal (a toggle). */
export function toggleMode(graph: EditorGraph, ids: readonly string[], mode: Exclude<NodeMode, "normal">): EditorGraph {
  const present = ids.filter((id) => id in graph.nodes);
  if (!present.length) return graph;
  const target: NodeMode = present.every((id) => graph.nodes[id]!.mode === mode) ? "normal" : mode;
  let next = graph;
  for (const id of present) next = updateNode(next, id, (n) => (n.mode === target ? n : { ...n, mode: target }));
  return next;
}

/** The edge feeding `input` of node `nodeId`, if any (an input takes at most one link). */
export function inputEdge(graph: EditorGraph, nodeId: string, input: string): EditorEdge | undefined {
  return graph.edges.find((e) => e.target === nodeId && e.targetInput === input);
}

export function outputEdges(graph: EditorGraph, nodeId: string, output?: number): EditorEdge[] {
  return graph.edges.filter((e) => e.source === nodeId && (output === undefined || e.sourceOutput === output));
}

/**
 * Show input `input` (mode "both") as a socket or as its widget. Converting back to a widget removes the link
 * that fed it; the widget value was kept all along.
 */
export function setInputAsSocket(
  graph: EditorGraph,
  catalog: Catalog,
  nodeId: string,
  input: string,
  asSocket: boolean,
): EditorGraph {
  const node = graph.nodes[nodeId];
  const spec = node && catalog.get(node.type)?.inputs.find((i) => i.name === input);
  if (!node || !spec || spec.mode !== "both") return graph;
  const has = node.sockets.includes(input);
  if (has === asSocket) return graph;
  const sockets = asSocket ? [...node.sockets, input] : node.sockets.filter((s) => s !== input);
  let next = updateNode(graph, nodeId, (n) => ({ ...n, sockets }));
  if (!asSocket) {
    const edge = inputEdge(next, nodeId, input);
    if (edge) next = removeEdges(next, [edge.id]);
  }
  return next;
}

/** The nodes `ids` and the edges between them: what copy/paste and duplicate carry. */
export interface Fragment {
  nodes: EditorNode[];
  edges: EditorEdge[];
}

export function extractFragment(graph: EditorGraph, ids: Iterable<string>): Fragment {
  const keep = new Set(ids);
  return {
    nodes: Object.values(graph.nodes).filter((n) => keep.has(n.id)),
    edges: graph.edges.filter((e) => keep.has(e.source) && keep.has(e.target)),
  };
}

/**
 * Insert a fragment with fresh ids, its top-left corner moved to `at` (or offset by `offset` when `at` is
 * absent). Returns the new graph and the ids of the inserted nodes.
 */
export function insertFragment(
  graph: EditorGraph,
  fragment: Fragment,
  placement: { at?: Position; offset?: Position } = {},
  space: IdSpace = WHOLE_ID_SPACE,
): { graph: EditorGraph; ids: string[] } {
  if (!fragment.nodes.length) return { graph, ids: [] };
  const minX = Math.min(...fragment.nodes.map((n) => n.position.x));
  const minY = Math.min(...fragment.nodes.map((n) => n.position.y));
  const dx = placement.at ? placement.at.x - minX : (placement.offset?.x ?? 0);
  const dy = placement.at ? placement.at.y - minY : (placement.offset?.y ?? 0);
  const idMap = new Map<string, string>();
  const nodes = { ...graph.nodes };
  const taken: string[] = [];
  for (const node of fragment.nodes) {
    const id = nextNodeId(graph, taken, space);
    taken.push(id);
    idMap.set(node.id, id);
    nodes[id] = { ...node, id, position: { x: node.position.x + dx, y: node.position.y + dy } };
  }
  const edges = [...graph.edges];
  for (const e of fragment.edges) {
    const source = idMap.get(e.source);
    const target = idMap.get(e.target);
    if (source && target) edges.push(makeEdge(source, e.sourceOutput, target, e.targetInput));
  }
  return { graph: { ...graph, nodes, edges }, ids: taken };
}

/** Change seed widgets as their control says, as the editor does after queueing a run. */
export function applySeedControls(
  graph: EditorGraph,
  catalog: Catalog,
  random: () => number = Math.random,
): EditorGraph {
  let next = graph;
  for (const node of Object.values(graph.nodes)) {
    const schema = catalog.get(node.type);
    if (!schema || node.mode === "mute") continue;
    for (const spec of schema.inputs) {
      const widget = spec.widget;
      if (widget?.kind !== "seed" || !showsWidget(spec, node)) continue;
      const control = node.seedControl?.[spec.name] ?? widget.control_after_run;
      const current = Number(node.values[spec.name] ?? widget.min);
      let value = current;
      if (control === "randomize") value = widget.min + Math.floor(random() * (widget.max - widget.min + 1));
      else if (control === "increment") value = current >= widget.max ? widget.min : current + 1;
      else if (control === "decrement") value = current <= widget.min ? widget.max : current - 1;
      next = setWidgetValue(next, node.id, spec.name, value);
    }
  }
  return next;
}

export function setSeedControl(graph: EditorGraph, nodeId: string, input: string, control: SeedControl): EditorGraph {
  return updateNode(graph, nodeId, (n) => ({ ...n, seedControl: { ...n.seedControl, [input]: control } }));
}
