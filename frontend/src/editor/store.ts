// The editor store (zustand): the graph, the catalog, selection, undo/redo history and UI notices.
// Created per editor instance and provided through React context (see store-context.tsx).
import { createStore, type StoreApi } from "zustand/vanilla";
import type { NodeSchema, SeedControl } from "../api/schemas";
import { parseFragment, serializeFragment } from "./clipboard";
import { connect as connectRule, type ConnectionRequest } from "./connection-rules";
import {
  addNode as addNodeTo,
  createNode,
  emptyGraph,
  extractFragment,
  insertFragment,
  makeCatalog,
  moveNodes as moveNodesIn,
  nextNodeId,
  WHOLE_ID_SPACE,
  type IdSpace,
  removeEdges,
  removeNodes,
  setCollapsed as setCollapsedIn,
  setInputAsSocket,
  setSeedControl as setSeedControlIn,
  setTitle as setTitleIn,
  setWidgetValue as setWidgetValueIn,
  toggleMode as toggleModeIn,
  type Catalog,
  type EditorGraph,
  type NodeMode,
  type Position,
  type Viewport,
} from "./graph-model";
import {
  closeView,
  convertToSubgraph,
  foldFrames,
  openView,
  subgraphIdOf,
  withSubgraphCatalog,
  type SubgraphFrame,
} from "./subgraphs";

export const HISTORY_LIMIT = 100;
/** Edits with the same key within this window are one undo step (typing in a text widget). */
export const COALESCE_MS = 800;

export interface Notice {
  id: number;
  kind: "error" | "info";
  text: string;
}

export interface EditorState {
  graph: EditorGraph;
  catalog: Catalog;
  selectedNodes: string[];
  selectedEdges: string[];
  /** Node sizes React Flow measured (not part of history). */
  measured: Record<string, { width: number; height: number }>;
  past: EditorGraph[];
  future: EditorGraph[];
  /** The graph as last loaded or saved: `graph !== savedGraph` means unsaved changes. */
  savedGraph: EditorGraph;
  notice: Notice | null;
  /** The canvas viewport (saved with the document, not an undoable edit). */
  viewport: Viewport | null;
  /** The node whose title is being edited. */
  renaming: string | null;
  lastCoalesce: { key: string; at: number } | null;
  /** The node catalog as loaded; `catalog` adds the schemas of the graph's subgraphs. */
  baseCatalog: Catalog;
  /** The subgraphs open, outermost first; empty at the root. */
  subgraphPath: SubgraphFrame[];
  /** Where new node, group, note and reroute ids are numbered (a range of this tab's own while co-editing). */
  idSpace: IdSpace;

  // ---- catalog and document ----
  setCatalog(schemas: readonly NodeSchema[]): void;
  /** Replace the graph (a loaded document): clears history and marks it saved. */
  load(graph: EditorGraph): void;
  markSaved(graph?: EditorGraph): void;
  isDirty(): boolean;

  // ---- history ----
  /** Apply a change as one undo step (or merged into the previous one when `coalesceKey` repeats). */
  change(update: (graph: EditorGraph) => EditorGraph, coalesceKey?: string): void;
  /** Record the current graph as an undo step before a continuous gesture (a drag). */
  checkpoint(): void;
  undo(): void;
  redo(): void;
  canUndo(): boolean;
  canRedo(): boolean;

  // ---- edits ----
  addNode(type: string, position: Position): string | null;
  moveNodes(positions: Record<string, Position>, record?: boolean): void;
  setWidgetValue(nodeId: string, input: string, value: unknown): void;
  setInputAsSocket(nodeId: string, input: string, asSocket: boolean): void;
  setSeedControl(nodeId: string, input: string, control: SeedControl): void;
  setTitle(nodeId: string, title: string): void;
  setCollapsed(nodeId: string, collapsed: boolean): void;
  toggleMode(mode: Exclude<NodeMode, "normal">, ids?: string[]): void;
  /** Link output → input; on refusal shows and returns the reason. */
  connect(req: ConnectionRequest): { ok: true } | { ok: false; reason: string };
  removeEdges(ids: string[]): void;
  deleteSelection(): void;
  duplicateSelection(): void;
  /** The selection as clipboard text (null when nothing is selected). */
  copySelection(): string | null;
  /** Paste clipboard text; returns false when it holds no Flowyard nodes. */
  paste(text: string, at?: Position): boolean;
  applyPositions(positions: Record<string, Position>): void;

  // ---- selection and UI ----
  select(nodes: string[], edges?: string[]): void;
  selectAll(): void;
  /** Record sizes React Flow measured (a batch: one store update for all of them). */
  setMeasured(sizes: Readonly<Record<string, { width: number; height: number }>>): void;
  setRenaming(id: string | null): void;
  setViewport(viewport: Viewport): void;
  /** The graph to save: the current graph with the current viewport. */
  graphToSave(): EditorGraph;
  // ---- subgraphs (subgraphs.ts) ----
  /** Show the inside of subgraph instance `nodeId`; false when it is not one. */
  openSubgraph(nodeId: string): boolean;
  /** Go back out to `depth` open levels (0: the root). */
  closeSubgraph(depth?: number): void;
  /** Replace the selected nodes by an instance of a new subgraph holding them; returns the instance id. */
  convertSelectionToSubgraph(name?: string): string | null;
  notify(kind: Notice["kind"], text: string): void;
  dismissNotice(): void;
}

let noticeCounter = 0;

export function createEditorStore(
  initial: { schemas?: readonly NodeSchema[]; graph?: EditorGraph; now?: () => number } = {},
): StoreApi<EditorState> {
  const now = initial.now ?? (() => Date.now());
  const graph0 = initial.graph ?? emptyGraph();
  const store = createStore<EditorState>()((set, get) => ({
    graph: graph0,
    baseCatalog: makeCatalog(initial.schemas ?? []),
    subgraphPath: [],
    idSpace: WHOLE_ID_SPACE,
    catalog: withSubgraphCatalog(makeCatalog(initial.schemas ?? []), graph0.subgraphs),
    selectedNodes: [],
    selectedEdges: [],
    measured: {},
    past: [],
    future: [],
    savedGraph: graph0,
    notice: null,
    renaming: null,
    viewport: graph0.viewport ?? null,
    lastCoalesce: null,

    setCatalog: (schemas) => set({ baseCatalog: makeCatalog(schemas) }),
    load: (graph) =>
      set({
        graph,
        viewport: graph.viewport ?? null,
        savedGraph: graph,
        past: [],
        future: [],
        selectedNodes: [],
        selectedEdges: [],
        lastCoalesce: null,
        subgraphPath: [],
      }),
    markSaved: (graph) => set((s) => ({ savedGraph: graph ?? s.graph })),
    isDirty: () => get().graph !== get().savedGraph,

    change: (update, coalesceKey) => {
      const s = get();
      const next = update(s.graph);
      if (next === s.graph) return;
      const t = now();
      const merge =
        coalesceKey !== undefined &&
        s.lastCoalesce?.key === coalesceKey &&
        t - s.lastCoalesce.at < COALESCE_MS &&
        s.past.length > 0;
      const past = merge ? s.past : [...s.past, s.graph].slice(-HISTORY_LIMIT);
      const alive = new Set(Object.keys(next.nodes));
      const edgeIds = new Set(next.edges.map((e) => e.id));
      set({
        graph: next,
        past,
        future: [],
        lastCoalesce: coalesceKey === undefined ? null : { key: coalesceKey, at: t },
        selectedNodes: s.selectedNodes.filter((id) => alive.has(id)),
        selectedEdges: s.selectedEdges.filter((id) => edgeIds.has(id)),
      });
    },
    checkpoint: () =>
      set((s) => ({ past: [...s.past, s.graph].slice(-HISTORY_LIMIT), future: [], lastCoalesce: null })),
    undo: () => {
      const s = get();
      let past = s.past;
      // Drop checkpoints that changed nothing (a click without a drag).
      while (past.length && past[past.length - 1] === s.graph) past = past.slice(0, -1);
      const previous = past[past.length - 1];
      if (!previous) return set({ past });
      set({ graph: previous, past: past.slice(0, -1), future: [s.graph, ...s.future], lastCoalesce: null });
    },
    redo: () => {
      const s = get();
      const next = s.future[0];
      if (!next) return;
      set({ graph: next, past: [...s.past, s.graph], future: s.future.slice(1), lastCoalesce: null });
    },
    canUndo: () => get().past.some((g) => g !== get().graph),
    canRedo: () => get().future.length > 0,

    addNode: (type, position) => {
      const schema = get().catalog.get(type);
      if (!schema) {
        get().notify("error", `Node type ${type} is not in the catalog.`);
        return null;
      }
      const id = nextNodeId(get().graph, [], get().idSpace);
      get().change((g) => addNodeTo(g, createNode(schema, id, position)));
      set({ selectedNodes: [id], selectedEdges: [] });
      return id;
    },
    moveNodes: (positions, record = false) => {
      if (record) get().change((g) => moveNodesIn(g, positions));
      else set((s) => ({ graph: moveNodesIn(s.graph, positions) }));
    },
    setWidgetValue: (nodeId, input, value) =>
      get().change((g) => setWidgetValueIn(g, nodeId, input, value), `value:${nodeId}:${input}`),
    setInputAsSocket: (nodeId, input, asSocket) =>
      get().change((g) => setInputAsSocket(g, get().catalog, nodeId, input, asSocket)),
    setSeedControl: (nodeId, input, control) => get().change((g) => setSeedControlIn(g, nodeId, input, control)),
    setTitle: (nodeId, title) => get().change((g) => setTitleIn(g, nodeId, title)),
    setCollapsed: (nodeId, collapsed) => get().change((g) => setCollapsedIn(g, nodeId, collapsed)),
    toggleMode: (mode, ids) => get().change((g) => toggleModeIn(g, ids ?? get().selectedNodes, mode)),
    connect: (req) => {
      const result = connectRule(get().graph, get().catalog, req);
      if (!result.ok) {
        get().notify("error", result.reason);
        return { ok: false, reason: result.reason };
      }
      get().change(() => result.graph);
      return { ok: true };
    },
    removeEdges: (ids) => get().change((g) => removeEdges(g, ids)),
    deleteSelection: () => {
      const { selectedNodes, selectedEdges } = get();
      if (!selectedNodes.length && !selectedEdges.length) return;
      get().change((g) => removeNodes(removeEdges(g, selectedEdges), selectedNodes));
      set({ selectedNodes: [], selectedEdges: [] });
    },
    duplicateSelection: () => {
      const s = get();
      if (!s.selectedNodes.length) return;
      const fragment = extractFragment(s.graph, s.selectedNodes);
      const { graph, ids } = insertFragment(s.graph, fragment, { offset: { x: 40, y: 40 } }, s.idSpace);
      get().change(() => graph);
      set({ selectedNodes: ids, selectedEdges: [] });
    },
    copySelection: () => {
      const s = get();
      if (!s.selectedNodes.length) return null;
      return serializeFragment(extractFragment(s.graph, s.selectedNodes));
    },
    paste: (text, at) => {
      const fragment = parseFragment(text);
      if (!fragment || !fragment.nodes.length) return false;
      const unknown = [...new Set(fragment.nodes.map((n) => n.type).filter((t) => !get().catalog.has(t)))];
      const placement = at ? { at } : { offset: { x: 40, y: 40 } };
      const { graph, ids } = insertFragment(get().graph, fragment, placement, get().idSpace);
      get().change(() => graph);
      set({ selectedNodes: ids, selectedEdges: [] });
      if (unknown.length) get().notify("info", `Pasted nodes of types not installed here: ${unknown.join(", ")}`);
      return true;
    },
    applyPositions: (positions) => get().change((g) => moveNodesIn(g, positions)),

    select: (nodes, edges = []) => set({ selectedNodes: nodes, selectedEdges: edges }),
    selectAll: () =>
      set((s) => ({ selectedNodes: Object.keys(s.graph.nodes), selectedEdges: s.graph.edges.map((e) => e.id) })),
    setMeasured: (sizes) =>
      set((s) => {
        let measured: EditorState["measured"] | null = null;
        for (const [id, size] of Object.entries(sizes)) {
          const old = s.measured[id];
          if (old && old.width === size.width && old.height === size.height) continue;
          measured ??= { ...s.measured };
          measured[id] = { width: size.width, height: size.height };
        }
        return measured ? { measured } : s;
      }),
    setRenaming: (id) => set({ renaming: id }),
    setViewport: (viewport) => set({ viewport }),
    graphToSave: () => {
      const { graph, viewport, subgraphPath } = get();
      if (subgraphPath.length) {
        const root = foldFrames(graph, subgraphPath);
        return root.viewport || !viewport ? root : { ...root, viewport };
      }
      return viewport ? { ...graph, viewport } : graph;
    },
    openSubgraph: (nodeId) => {
      const s = get();
      const node = s.graph.nodes[nodeId];
      const id = node && subgraphIdOf(node.type);
      if (!id || !s.graph.subgraphs?.[id]) return false;
      const parent = s.subgraphPath.length ? s.graph : { ...s.graph, ...(s.viewport ? { viewport: s.viewport } : {}) };
      const view = openView(s.graph.subgraphs, id, s.catalog);
      // Undo history is per level: going in or out starts a fresh one.
      set({
        graph: view,
        subgraphPath: [...s.subgraphPath, { id, instance: nodeId, parent }],
        past: [],
        future: [],
        selectedNodes: [],
        selectedEdges: [],
        lastCoalesce: null,
      });
      return true;
    },
    closeSubgraph: (depth = 0) => {
      const s = get();
      if (depth >= s.subgraphPath.length) return;
      let graph = s.graph;
      for (let i = s.subgraphPath.length - 1; i >= depth; i -= 1) {
        const frame = s.subgraphPath[i]!;
        graph = { ...frame.parent, subgraphs: closeView(graph, frame.id) };
      }
      const path = s.subgraphPath.slice(0, depth);
      const atRoot = !path.length;
      const unchanged = atRoot && JSON.stringify(graph) === JSON.stringify(s.savedGraph);
      set({
        graph: unchanged ? s.savedGraph : graph,
        subgraphPath: path,
        past: [],
        future: [],
        selectedNodes: [],
        selectedEdges: [],
        lastCoalesce: null,
      });
    },
    convertSelectionToSubgraph: (name) => {
      const s = get();
      const result = convertToSubgraph(s.graph, s.catalog, s.selectedNodes, {
        ...(name ? { name } : {}),
        space: s.idSpace,
      });
      if (!result) return null;
      get().change(() => result.graph);
      set({ selectedNodes: [result.instance], selectedEdges: [] });
      return result.instance;
    },
    notify: (kind, text) => set({ notice: { id: ++noticeCounter, kind, text } }),
    dismissNotice: () => set({ notice: null }),
  }));
  // The catalog follows the subgraph definitions (their instances and boundary nodes are node types too).
  store.subscribe((s, p) => {
    if (s.graph.subgraphs !== p.graph.subgraphs || s.baseCatalog !== p.baseCatalog) {
      store.setState({ catalog: withSubgraphCatalog(s.baseCatalog, s.graph.subgraphs) });
    }
  });
  return store;
}

export type EditorStore = StoreApi<EditorState>;
