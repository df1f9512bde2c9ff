// The adapter between the editor store and React Flow's node and edge arrays.
//
// React Flow owns node positions, measurements and selection while the user interacts (the canvas keeps its own
// node array and applies React Flow's changes to it); the store is the document and is written when a gesture
// ends. These functions rebuild the arrays from the store *reusing every object that did not change*, so React
// Flow (whose node and edge wrappers compare objects) re-renders only the nodes and edges that did change: a
// widget edit, a selection change or a drag step no longer touches the other 499 nodes.
import { getViewportForBounds, type NodeChange } from "@xyflow/react";
import { NOTE_NODE_PREFIX, REROUTE_EDGE_PREFIX, REROUTE_NODE_PREFIX, routedEdges } from "./canvas-items";
import {
  GROUP_NODE_PREFIX,
  inHandle,
  outHandle,
  type AppEdge,
  type AppNode,
  type GroupFlowNode,
  type NoteFlowNode,
  type RerouteFlowNode,
} from "./flow-types";
import type { Catalog, EditorGraph, Position, Viewport } from "./graph-model";
import { typeColor } from "./type-colors";

const samePosition = (a: Position, b: Position) => a.x === b.x && a.y === b.y;

/** Replace `prev` by `next` only when some element differs (same length, same objects: keep the old array). */
function keepIfSame<T>(prev: readonly T[], next: T[]): T[] {
  if (prev.length !== next.length) return next;
  for (let i = 0; i < next.length; i++) if (prev[i] !== next[i]) return next;
  return prev as T[];
}

/**
 * The React Flow nodes for `graph`: group frames first (drawn behind), then the nodes. A node object from `prev`
 * is kept when its type, position and selection are unchanged (its measured size travels with it); a node that
 * React Flow is dragging keeps the position React Flow gave it.
 */
export function syncFlowNodes(
  prev: readonly AppNode[],
  graph: EditorGraph,
  catalog: Catalog,
  selected: ReadonlySet<string>,
  readOnly: boolean,
): AppNode[] {
  const old = new Map<string, AppNode>();
  for (const n of prev) old.set(n.id, n);
  const next: AppNode[] = [];
  for (const g of graph.groups) {
    const id = GROUP_NODE_PREFIX + g.id;
    const p = old.get(id) as GroupFlowNode | undefined;
    const position = p?.dragging ? p.position : { x: g.x, y: g.y };
    if (
      p &&
      p.type === "flowgroup" &&
      samePosition(p.position, position) &&
      p.width === g.width &&
      p.height === g.height &&
      p.data.readOnly === readOnly &&
      p.draggable === !readOnly
    ) {
      next.push(p);
      continue;
    }
    next.push({
      ...(p ?? {}),
      id,
      type: "flowgroup",
      position,
      data: { groupId: g.id, readOnly },
      selectable: false,
      draggable: !readOnly,
      dragHandle: ".fy-group-title",
      width: g.width,
      height: g.height,
    } as GroupFlowNode);
  }
  for (const note of graph.notes ?? []) {
    const id = NOTE_NODE_PREFIX + note.id;
    const p = old.get(id) as NoteFlowNode | undefined;
    const position = p?.dragging ? p.position : { x: note.x, y: note.y };
    if (p && p.type === "flownote" && samePosition(p.position, position) && p.data.readOnly === readOnly) {
      next.push(p);
      continue;
    }
    next.push({
      ...(p ?? {}),
      id,
      type: "flownote",
      position,
      data: { noteId: note.id, readOnly },
      selectable: false,
      draggable: !readOnly,
      dragHandle: ".fy-note-handle",
    } as NoteFlowNode);
  }
  for (const r of graph.reroutes ?? []) {
    const id = REROUTE_NODE_PREFIX + r.id;
    const p = old.get(id) as RerouteFlowNode | undefined;
    const position = p?.dragging ? p.position : { x: r.x, y: r.y };
    const source = graph.nodes[r.source];
    const valueType = (source && catalog.get(source.type)?.outputs[r.output]?.type) ?? "ANY";
    if (
      p &&
      p.type === "flowreroute" &&
      samePosition(p.position, position) &&
      p.data.readOnly === readOnly &&
      p.data.valueType === valueType
    ) {
      next.push(p);
      continue;
    }
    next.push({
      ...(p ?? {}),
      id,
      type: "flowreroute",
      position,
      data: { rerouteId: r.id, valueType, readOnly },
      selectable: false,
      draggable: !readOnly,
    } as RerouteFlowNode);
  }
  for (const n of Object.values(graph.nodes)) {
    const p = old.get(n.id);
    const type = catalog.has(n.type) ? "schema" : "missing";
    const isSelected = selected.has(n.id);
    const position = p?.dragging ? p.position : n.position;
    if (
      p &&
      p.type === type &&
      samePosition(p.position, position) &&
      Boolean(p.selected) === isSelected &&
      (type === "schema" || (p.data as { nodeType?: string }).nodeType === n.type)
    ) {
      next.push(p);
      continue;
    }
    const data = type === "schema" ? { nodeId: n.id } : { nodeId: n.id, nodeType: n.type };
    // Spread the previous object: it carries `measured`, which React Flow needs to show the node without
    // measuring it again.
    next.push({ ...(p ?? {}), id: n.id, type, position, selected: isSelected, data } as AppNode);
  }
  return keepIfSame(prev, next);
}

/** The React Flow edges for `graph`, reusing the objects of `prev` that did not change. */
export function syncFlowEdges(
  prev: readonly AppEdge[],
  graph: EditorGraph,
  catalog: Catalog,
  selected: ReadonlySet<string>,
): AppEdge[] {
  const old = new Map<string, AppEdge>();
  for (const e of prev) old.set(e.id, e);
  const routed = routedEdges(graph);
  const next = graph.edges.map((e): AppEdge => {
    const source = graph.nodes[e.source];
    const valueType = (source && catalog.get(source.type)?.outputs[e.sourceOutput]?.type) ?? "ANY";
    const target = graph.nodes[e.target];
    const opacity = source?.mode === "mute" || target?.mode === "mute" ? 0.35 : 1;
    // A link drawn through a reroute leaves from the reroute's dot (the reroute's own edge brings it there).
    const via = routed.get(e.id);
    const flowSource = via ? REROUTE_NODE_PREFIX + via.id : e.source;
    const sourceHandle = via ? outHandle(0) : outHandle(e.sourceOutput);
    const targetHandle = inHandle(e.targetInput);
    const isSelected = selected.has(e.id);
    const p = old.get(e.id);
    if (
      p &&
      p.source === flowSource &&
      p.target === e.target &&
      p.sourceHandle === sourceHandle &&
      p.targetHandle === targetHandle &&
      Boolean(p.selected) === isSelected &&
      p.data?.valueType === valueType &&
      p.style?.opacity === opacity
    ) {
      return p;
    }
    return {
      id: e.id,
      source: flowSource,
      sourceHandle,
      target: e.target,
      targetHandle,
      selected: isSelected,
      data: { valueType },
      style: { stroke: typeColor(valueType), strokeWidth: 2, opacity },
    };
  });
  const used = new Set([...routed.values()].map((r) => r.id));
  for (const r of graph.reroutes ?? []) {
    if (!used.has(r.id) || !graph.nodes[r.source]) continue;
    const id = REROUTE_EDGE_PREFIX + r.id;
    const valueType = catalog.get(graph.nodes[r.source]!.type)?.outputs[r.output]?.type ?? "ANY";
    const p = old.get(id);
    const target = REROUTE_NODE_PREFIX + r.id;
    if (
      p &&
      p.source === r.source &&
      p.sourceHandle === outHandle(r.output) &&
      p.target === target &&
      p.data?.valueType === valueType
    ) {
      next.push(p);
      continue;
    }
    next.push({
      id,
      source: r.source,
      sourceHandle: outHandle(r.output),
      target,
      targetHandle: inHandle("value"),
      selectable: false,
      data: { valueType },
      style: { stroke: typeColor(valueType), strokeWidth: 2 },
    });
  }
  return keepIfSame(prev, next);
}

/** What a batch of React Flow node changes means for the store. */
export interface NodeChangeEffects {
  /** Positions where a gesture ended (drag stop, keyboard move): one undo step. */
  committed: Record<string, Position>;
  /** Group frames dropped at a new place. */
  groupsMoved: Record<string, Position>;
  /** Notes and reroutes dropped at a new place, by flow node id. */
  itemsMoved: Record<string, Position>;
  /** Sizes React Flow measured. */
  measured: Record<string, { width: number; height: number }>;
  /** The new node selection, when it changed. */
  selection: string[] | null;
}

/**
 * What the store should learn from a batch of React Flow node changes. The changes themselves are applied to the
 * canvas' own array (`applyNodeChanges`); positions while dragging stay there, only the final position
 * (`dragging: false`) is committed.
 */
export function nodeChangeEffects(
  changes: readonly NodeChange<AppNode>[],
  selectedNodes: readonly string[],
): NodeChangeEffects {
  const effects: NodeChangeEffects = { committed: {}, groupsMoved: {}, itemsMoved: {}, measured: {}, selection: null };
  let selection: Set<string> | null = null;
  for (const c of changes) {
    const isItem = "id" in c && (c.id.startsWith(NOTE_NODE_PREFIX) || c.id.startsWith(REROUTE_NODE_PREFIX));
    const isGroup = ("id" in c && c.id.startsWith(GROUP_NODE_PREFIX)) || isItem;
    if (c.type === "position" && c.position && !c.dragging) {
      if (isItem) effects.itemsMoved[c.id] = c.position;
      else if (isGroup) effects.groupsMoved[c.id.slice(GROUP_NODE_PREFIX.length)] = c.position;
      else effects.committed[c.id] = c.position;
    } else if (c.type === "dimensions" && c.dimensions && !isGroup) {
      effects.measured[c.id] = c.dimensions;
    } else if (c.type === "select" && !isGroup) {
      selection ??= new Set(selectedNodes);
      if (c.selected) selection.add(c.id);
      else selection.delete(c.id);
    }
  }
  if (selection) {
    const before = new Set(selectedNodes);
    const changed = selection.size !== before.size || [...selection].some((id) => !before.has(id));
    if (changed) effects.selection = [...selection];
  }
  return effects;
}

/** Move the members of a dragged group with it, in the canvas only (committed to the store on drop). */
export function moveGroupMembers(nodes: AppNode[], members: ReadonlyMap<string, Position>, delta: Position): AppNode[] {
  if (!members.size) return nodes;
  return nodes.map((n) => {
    const start = members.get(n.id);
    if (!start) return n;
    const position = { x: start.x + delta.x, y: start.y + delta.y };
    return samePosition(n.position, position) ? n : { ...n, position };
  });
}

// ---- per-node selectors ----

const EMPTY_INPUTS: readonly string[] = [];
const linkedIndex = new WeakMap<EditorGraph["edges"], Map<string, string[]>>();

/**
 * The inputs of `nodeId` that have a link, from an index built once per edge list (a node selector runs on
 * every store change; filtering all edges in each of 500 nodes made every change cost 500 × edges).
 */
export function linkedInputsOf(edges: EditorGraph["edges"], nodeId: string): readonly string[] {
  let index = linkedIndex.get(edges);
  if (!index) {
    index = new Map();
    for (const e of edges) {
      const list = index.get(e.target);
      if (list) list.push(e.targetInput);
      else index.set(e.target, [e.targetInput]);
    }
    linkedIndex.set(edges, index);
  }
  return index.get(nodeId) ?? EMPTY_INPUTS;
}

// ---- the first viewport ----

/** Size assumed for a node before React Flow measured it. */
const ESTIMATED_NODE = { width: 240, height: 160 };

/**
 * A viewport that fits the graph in a `width` × `height` canvas, estimated from positions before any node is
 * measured. React Flow's `fitView` only runs after measuring every node; starting from zoom 1 meant rendering
 * full nodes first and then compact ones (see COMPACT_ZOOM in node-look.ts), so a large graph was laid out twice on
 * open.
 */
export function estimateFitViewport(
  graph: EditorGraph,
  width: number,
  height: number,
  padding = 0.2,
  minZoom = 0.1,
  maxZoom = 1,
): Viewport | null {
  const nodes = Object.values(graph.nodes);
  if (!nodes.length || width <= 0 || height <= 0) return null;
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const n of nodes) {
    x0 = Math.min(x0, n.position.x);
    y0 = Math.min(y0, n.position.y);
    x1 = Math.max(x1, n.position.x + (n.width ?? ESTIMATED_NODE.width));
    y1 = Math.max(y1, n.position.y + (n.height ?? ESTIMATED_NODE.height));
  }
  return getViewportForBounds(
    { x: x0, y: y0, width: x1 - x0, height: y1 - y0 },
    width,
    height,
    minZoom,
    maxZoom,
    padding,
  );
}
