// The React Flow canvas: renders the store's graph, turns gestures into store actions, hosts the popups.
import { SubgraphBreadcrumb, SubgraphButtons } from "./subgraph-bar";
import {
  applyNodeChanges,
  Background,
  Controls,
  MiniMap,
  ReactFlow,
  ReactFlowProvider,
  useReactFlow,
  useStore as useFlowStore,
  type Connection,
  type EdgeChange,
  type FinalConnectionState,
  type IsValidConnection,
  type NodeChange,
  type ReactFlowState,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import {
  useCallback,
  useEffect,
  useMemo,
  useRef,
  useState,
  type DragEvent,
  type MouseEvent as ReactMouseEvent,
  type ReactNode,
} from "react";
import type { NodeSchema } from "../../api/schemas";
import { layoutGraph } from "../auto-layout";
import { checkConnection, compatibleNodeTypes, type ConnectionRequest } from "../connection-rules";
import { GROUP_NODE_PREFIX, parseHandle, type AppEdge, type AppNode } from "../flow-types";
import { estimateFitViewport, moveGroupMembers, nodeChangeEffects, syncFlowEdges, syncFlowNodes } from "../flow-sync";
import type { Position, Viewport } from "../graph-model";
import { addGroup, groupAround, moveGroup, nodesInGroup } from "../groups";
import { addNote, addReroute, moveCanvasItems, NOTE_NODE_PREFIX, REROUTE_NODE_PREFIX } from "../canvas-items";
import { nodeLook } from "../node-look";
import { estimateNodeSize, freeSpot, nodeRects } from "../placement";
import { rememberNodeType } from "../recent-nodes";
import { ReadOnlyContext } from "../read-only";
import { GLOBAL_ACTIONS, isEditableTarget, matchShortcut } from "../shortcuts";
import type { EditorState } from "../store";
import { useEditorStore, useEditorStoreApi } from "../store-context";
import { nodeTypes as schemaNodeTypes } from "./flow-node";
import { GroupNode } from "./group-node";
import { NoteNode } from "./note-node";
import { RerouteNode } from "./reroute-node";
import { HelpPanel } from "./help-panel";
import { CanvasContextMenu, type CanvasMenuState } from "./canvas-context-menu";
import { NodeContextMenu, type MenuState } from "./node-context-menu";
import { NODE_DRAG_MIME, NodePalette } from "./node-palette";
import { NodeSearchPopup } from "./node-search-popup";
import { NoticeToast } from "./notice-toast";

export interface EditorCanvasProps {
  onSave?: () => void;
  onRun?: () => void;
  /** A view only (shared links, no edit rights): no palette, no drags, links or shortcuts that edit. */
  readOnly?: boolean;
  /** A column right of the canvas (the runs panel): beside it, never over it. */
  aside?: ReactNode;
}

const nodeTypes = { ...schemaNodeTypes, flowgroup: GroupNode, flownote: NoteNode, flowreroute: RerouteNode };

// Props of <ReactFlow> that are objects or arrays are module constants: React Flow copies most of its props into
// its store whenever they change identity (one store update per changed prop, and every node, edge, handle and
// minimap node re-runs its selector on each update), and the canvas re-renders on every drag step.
const FIT_VIEW_OPTIONS = { padding: 0.2, maxZoom: 1 } as const;
const PRO_OPTIONS = { hideAttribution: true } as const;
const MULTI_SELECTION_KEYS = ["Control", "Meta"];
const DEFAULT_VIEWPORT = { x: 0, y: 0, zoom: 1 } as const;
/** Shortcuts a read-only canvas keeps: none of them edits (Run is offered only to roles that may run). */
const READ_ONLY_ACTIONS: ReadonlySet<string> = new Set(["fitView", "help", "selectAll", "run"]);

interface SearchState {
  screen: Position;
  flow: Position;
  /** A link dropped in empty space: the new node gets linked to this end. */
  pending?:
    | { kind: "output"; nodeId: string; index: number; type: string }
    | { kind: "input"; nodeId: string; name: string; type: string };
}

/** Turn a React Flow connection into an output → input request (links may be drawn from either end). */
function toRequest(
  c: Pick<Connection, "source" | "sourceHandle" | "target" | "targetHandle">,
): ConnectionRequest | null {
  const out = parseHandle(c.sourceHandle);
  const inp = parseHandle(c.targetHandle);
  if (out?.kind === "out" && inp?.kind === "in")
    return { source: c.source, sourceOutput: out.index, target: c.target, targetInput: inp.name };
  if (out?.kind === "in" && inp?.kind === "out")
    return { source: c.target, sourceOutput: inp.index, target: c.source, targetInput: out.name };
  return null;
}

const selectCatalog = (s: EditorState) => s.catalog;
const selectHasNodes = (s: EditorState) => {
  for (const id in s.graph.nodes) if (id) return true;
  return false;
};

/** A group being dragged: where it and the nodes it carries started (found when the drag starts). */
interface GroupDrag {
  groupId: string;
  start: Position;
  members: Map<string, Position>;
}

/** Whether the zoom draws nodes as boxes (node-look.ts): one subscription for the canvas's class, not one per node. */
const selectOverview = (s: ReactFlowState) => nodeLook(s.transform[2]) === "overview";

/** The canvas without its ReactFlowProvider (exported for tests that read React Flow's store next to it). */
export function CanvasInner({ onSave, onRun, readOnly = false, aside }: EditorCanvasProps) {
  const store = useEditorStoreApi();
  const catalog = useEditorStore(selectCatalog);
  const hasNodes = useEditorStore(selectHasNodes);
  const overview = useFlowStore(selectOverview);
  const flow = useReactFlow<AppNode, AppEdge>();
  const wrapper = useRef<HTMLDivElement>(null);
  const pointer = useRef<Position | null>(null);
  const [search, setSearch] = useState<SearchState | null>(null);
  const [menu, setMenu] = useState<MenuState | null>(null);
  const [paneMenu, setPaneMenu] = useState<CanvasMenuState | null>(null);
  /** The last nodes copied here: what the menu's Paste uses when the page may not read the clipboard. */
  const lastCopied = useRef<string | null>(null);
  const [help, setHelp] = useState(false);
  const schemas = useMemo(() => [...catalog.values()], [catalog]);
  // Read once: React Flow takes the initial viewport and fitView on mount only. Without a saved viewport, start
  // from an estimate of the fitted one (fitView still corrects it once the nodes are measured).
  const [initialViewport] = useState(() => store.getState().graph.viewport ?? null);
  const [startViewport] = useState(
    () =>
      initialViewport ??
      estimateFitViewport(store.getState().graph, window.innerWidth - (readOnly ? 0 : 230), window.innerHeight - 60),
  );

  // React Flow's node and edge arrays live here. React Flow's changes (drag steps, measurements, selection) are
  // applied to them directly; store changes are merged in reusing unchanged objects (see flow-sync.ts).
  const [nodes, setNodes] = useState<AppNode[]>(() => {
    const s = store.getState();
    return syncFlowNodes([], s.graph, s.catalog, new Set(s.selectedNodes), readOnly);
  });
  const [edges, setEdges] = useState<AppEdge[]>(() => {
    const s = store.getState();
    return syncFlowEdges([], s.graph, s.catalog, new Set(s.selectedEdges));
  });
  useEffect(() => {
    const syncNodes = () =>
      setNodes((prev) => {
        const s = store.getState();
        return syncFlowNodes(prev, s.graph, s.catalog, new Set(s.selectedNodes), readOnly);
      });
    const syncEdges = () =>
      setEdges((prev) => {
        const s = store.getState();
        return syncFlowEdges(prev, s.graph, s.catalog, new Set(s.selectedEdges));
      });
    syncNodes();
    syncEdges();
    return store.subscribe((s, p) => {
      const catalogChanged = s.catalog !== p.catalog;
      if (
        catalogChanged ||
        s.graph.nodes !== p.graph.nodes ||
        s.graph.groups !== p.graph.groups ||
        s.selectedNodes !== p.selectedNodes
      ) {
        syncNodes();
      }
      if (
        catalogChanged ||
        s.graph.nodes !== p.graph.nodes ||
        s.graph.edges !== p.graph.edges ||
        s.selectedEdges !== p.selectedEdges
      ) {
        syncEdges();
      }
    });
  }, [store, readOnly]);

  const groupDrag = useRef<GroupDrag | null>(null);

  const onNodeDragStart = useCallback(
    (_: unknown, node: AppNode) => {
      const s = store.getState();
      if (
        node.id.startsWith(GROUP_NODE_PREFIX) ||
        node.id.startsWith(NOTE_NODE_PREFIX) ||
        node.id.startsWith(REROUTE_NODE_PREFIX)
      ) {
        const groupId = node.id.slice(GROUP_NODE_PREFIX.length);
        const group = s.graph.groups.find((g) => g.id === groupId);
        groupDrag.current = group
          ? {
              groupId,
              start: { x: group.x, y: group.y },
              members: new Map(nodesInGroup(s.graph, group, s.measured).map((id) => [id, s.graph.nodes[id]!.position])),
            }
          : null;
      }
    },
    [store],
  );
  const onNodeDragStop = useCallback(() => {
    groupDrag.current = null;
  }, []);
  const onNodeContextMenu = useCallback(
    (e: ReactMouseEvent, node: AppNode) => {
      e.preventDefault();
      if (readOnly) return;
      const rect = wrapper.current?.getBoundingClientRect();
      if (node.id.startsWith(GROUP_NODE_PREFIX)) {
        // A group's frame is canvas: its menu is the canvas menu (add, paste, arrange inside it).
        setMenu(null);
        setPaneMenu({
          x: e.clientX - (rect?.left ?? 0),
          y: e.clientY - (rect?.top ?? 0),
          flow: flow.screenToFlowPosition({ x: e.clientX, y: e.clientY }),
        });
        return;
      }
      setPaneMenu(null);
      const s = store.getState();
      if (!s.selectedNodes.includes(node.id)) s.select([node.id]);
      setMenu({ nodeId: node.id, x: e.clientX - (rect?.left ?? 0), y: e.clientY - (rect?.top ?? 0) });
    },
    [store, readOnly, flow],
  );
  const onPaneClick = useCallback(() => {
    setMenu(null);
    setPaneMenu(null);
  }, []);
  const onPaneContextMenu = useCallback(
    (e: ReactMouseEvent | MouseEvent) => {
      e.preventDefault();
      if (readOnly || !wrapper.current) return;
      const rect = wrapper.current.getBoundingClientRect();
      setMenu(null);
      setPaneMenu({
        x: e.clientX - rect.left,
        y: e.clientY - rect.top,
        flow: flow.screenToFlowPosition({ x: e.clientX, y: e.clientY }),
      });
    },
    [flow, readOnly],
  );

  /** Add a node of `type` at `want` (its top-left, or its centre) or, when that is taken, the nearest free spot. */
  const placeNode = useCallback(
    (type: string, want: Position, anchor: "corner" | "centre" = "corner") => {
      const s = store.getState();
      const size = estimateNodeSize(s.catalog.get(type));
      const corner = anchor === "centre" ? { x: want.x - size.width / 2, y: want.y - size.height / 2 } : want;
      const id = s.addNode(type, freeSpot(nodeRects(s.graph, s.measured), corner, size));
      if (id) rememberNodeType(type);
      return id;
    },
    [store],
  );
  const onMoveEnd = useCallback((_: unknown, viewport: Viewport) => store.getState().setViewport(viewport), [store]);

  const onNodesChange = useCallback(
    (changes: NodeChange<AppNode>[]) => {
      const s = store.getState();
      const drag = groupDrag.current;
      let groupDelta: Position | null = null;
      if (drag) {
        for (const c of changes) {
          if (c.type === "position" && c.position && c.id === GROUP_NODE_PREFIX + drag.groupId) {
            groupDelta = { x: c.position.x - drag.start.x, y: c.position.y - drag.start.y };
          }
        }
      }
      setNodes((prev) => {
        const next = applyNodeChanges(changes, prev);
        return drag && groupDelta ? moveGroupMembers(next, drag.members, groupDelta) : next;
      });
      const fx = nodeChangeEffects(changes, s.selectedNodes);
      if (Object.keys(fx.measured).length) s.setMeasured(fx.measured);
      if (Object.keys(fx.committed).length) s.applyPositions(fx.committed);
      if (Object.keys(fx.itemsMoved).length) s.change((g) => moveCanvasItems(g, fx.itemsMoved));
      for (const [groupId, to] of Object.entries(fx.groupsMoved)) {
        const members = drag?.groupId === groupId ? [...drag.members.keys()] : [];
        s.change((g) => moveGroup(g, groupId, to, members));
      }
      if (fx.selection) s.select(fx.selection, store.getState().selectedEdges);
    },
    [store],
  );

  const onEdgesChange = useCallback(
    (changes: EdgeChange<AppEdge>[]) => {
      const s = store.getState();
      let selection: Set<string> | null = null;
      for (const c of changes) {
        if (c.type === "select") {
          selection ??= new Set(s.selectedEdges);
          if (c.selected) selection.add(c.id);
          else selection.delete(c.id);
        }
      }
      if (selection) s.select(store.getState().selectedNodes, [...selection]);
    },
    [store],
  );

  const isValidConnection = useCallback<IsValidConnection<AppEdge>>(
    (c) => {
      const req = toRequest({
        source: c.source,
        target: c.target,
        sourceHandle: c.sourceHandle ?? null,
        targetHandle: c.targetHandle ?? null,
      });
      return req !== null && checkConnection(store.getState().graph, store.getState().catalog, req).ok;
    },
    [store],
  );

  const onConnect = useCallback(
    (c: Connection) => {
      const req = toRequest(c);
      if (req && !readOnly) store.getState().connect(req);
    },
    [store, readOnly],
  );

  const onConnectEnd = useCallback(
    (event: MouseEvent | TouchEvent, state: FinalConnectionState) => {
      if (readOnly || !state.fromHandle?.id || !state.fromNode) return;
      const s = store.getState();
      const from = parseHandle(state.fromHandle.id);
      if (state.toHandle?.id && state.isValid === false) {
        // Dropped on a socket that refuses the link: say why.
        const conn = {
          source: state.fromNode.id,
          sourceHandle: state.fromHandle.id,
          target: state.toHandle.nodeId,
          targetHandle: state.toHandle.id,
        };
        const req = toRequest(conn);
        const verdict = req
          ? checkConnection(s.graph, s.catalog, req)
          : { ok: false as const, reason: "Link an output to an input." };
        if (!verdict.ok) s.notify("error", verdict.reason);
        return;
      }
      if (state.toNode || state.toHandle || !from) return;
      // Dropped in empty space: search nodes compatible with the dragged end, then link the new one.
      const point = "changedTouches" in event ? event.changedTouches[0]! : event;
      const node = s.graph.nodes[state.fromNode.id];
      const schema = node && s.catalog.get(node.type);
      if (!schema || !wrapper.current) return;
      const rect = wrapper.current.getBoundingClientRect();
      const screen = { x: point.clientX - rect.left, y: point.clientY - rect.top };
      const flowPos = flow.screenToFlowPosition({ x: point.clientX, y: point.clientY });
      if (from.kind === "out") {
        const type = schema.outputs[from.index]?.type ?? "ANY";
        setSearch({ screen, flow: flowPos, pending: { kind: "output", nodeId: node.id, index: from.index, type } });
      } else {
        const type = schema.inputs.find((i) => i.name === from.name)?.type ?? "ANY";
        setSearch({ screen, flow: flowPos, pending: { kind: "input", nodeId: node.id, name: from.name, type } });
      }
    },
    [store, flow, readOnly],
  );

  const searchSchemas = useMemo(() => {
    const pending = search?.pending;
    if (!pending) return schemas;
    return compatibleNodeTypes(catalog, { kind: pending.kind, type: pending.type }).map((m) => m.schema);
  }, [search, schemas, catalog]);

  const pickFromSearch = useCallback(
    (schema: NodeSchema) => {
      if (!search) return;
      const s = store.getState();
      const id = placeNode(schema.type, search.flow);
      const pending = search.pending;
      if (id && pending) {
        const match = compatibleNodeTypes(new Map([[schema.type, schema]]), {
          kind: pending.kind,
          type: pending.type,
        })[0];
        if (match && pending.kind === "output") {
          s.connect({
            source: pending.nodeId,
            sourceOutput: pending.index,
            target: id,
            targetInput: String(match.slot),
          });
        } else if (match && pending.kind === "input") {
          s.connect({
            source: id,
            sourceOutput: Number(match.slot),
            target: pending.nodeId,
            targetInput: pending.name,
          });
        }
      }
      setSearch(null);
    },
    [search, store, placeNode],
  );

  const groupSelection = useCallback(() => {
    const s = store.getState();
    const group = groupAround(s.graph, s.selectedNodes, s.measured);
    if (!group) return s.notify("info", "Select the nodes to group first (Shift+drag draws a selection box).");
    s.change((g) => addGroup(g, group));
  }, [store]);

  // Double-clicking a subgraph instance opens its inside (the breadcrumb leads back out).
  const onNodeDoubleClick = useCallback(
    (_: ReactMouseEvent, node: { id: string }) => {
      if (!readOnly && store.getState().openSubgraph(node.id))
        void flow.fitView({ padding: 0.2, maxZoom: 1, duration: 200 });
    },
    [flow, readOnly, store],
  );

  const onDoubleClick = useCallback(
    (e: ReactMouseEvent) => {
      const target = e.target as Element;
      if (readOnly || !target.classList.contains("react-flow__pane") || !wrapper.current) return;
      const rect = wrapper.current.getBoundingClientRect();
      setSearch({
        screen: { x: e.clientX - rect.left, y: e.clientY - rect.top },
        flow: flow.screenToFlowPosition({ x: e.clientX, y: e.clientY }),
      });
    },
    [flow, readOnly],
  );

  const addAtCentre = useCallback(
    (type: string) => {
      const rect = wrapper.current?.getBoundingClientRect();
      const centre = rect
        ? flow.screenToFlowPosition({ x: rect.left + rect.width / 2, y: rect.top + rect.height / 2 })
        : { x: 0, y: 0 };
      placeNode(type, centre, "centre");
    },
    [flow, placeNode],
  );

  const onDrop = useCallback(
    (e: DragEvent) => {
      const type = e.dataTransfer.getData(NODE_DRAG_MIME);
      if (!type || readOnly) return;
      e.preventDefault();
      placeNode(type, flow.screenToFlowPosition({ x: e.clientX, y: e.clientY }));
    },
    [flow, placeNode, readOnly],
  );

  const autoLayout = useCallback(async () => {
    const s = store.getState();
    try {
      const positions = await layoutGraph(s.graph, s.measured);
      store.getState().applyPositions(positions);
      requestAnimationFrame(() => void flow.fitView({ padding: 0.2, maxZoom: 1, duration: 300 }));
    } catch (exc) {
      s.notify("error", `Auto layout failed: ${exc instanceof Error ? exc.message : String(exc)}`);
    }
  }, [store, flow]);

  const paneMenuActions = useMemo(
    () => ({
      addNode: () => {
        if (paneMenu) setSearch({ screen: { x: paneMenu.x, y: paneMenu.y }, flow: paneMenu.flow });
      },
      paste: () => {
        const at = paneMenu?.flow;
        const fromClipboard = navigator.clipboard?.readText
          ? navigator.clipboard.readText().catch(() => null)
          : Promise.resolve(null);
        void fromClipboard.then((text) => {
          const s = store.getState();
          if (text && s.paste(text, at)) return;
          if (lastCopied.current && s.paste(lastCopied.current, at)) return;
          s.notify("info", "Nothing to paste: copy nodes first (Ctrl+C).");
        });
      },
      group: () => {
        const s = store.getState();
        if (s.selectedNodes.length) return groupSelection();
        if (!paneMenu) return;
        const group = {
          id: `g${s.graph.groups.length + 1}`,
          title: "Group",
          x: Math.round(paneMenu.flow.x),
          y: Math.round(paneMenu.flow.y),
          width: 400,
          height: 260,
        };
        while (s.graph.groups.some((g) => g.id === group.id)) group.id = `${group.id}x`;
        s.change((g) => addGroup(g, group));
      },
      arrange: () => void autoLayout(),
      note: () => {
        if (!paneMenu) return;
        // Inside an open subgraph the view is rebuilt from the definition's nodes: notes belong to the top level.
        if (store.getState().subgraphPath.length)
          return store.getState().notify("info", "Notes go on the top level of the workflow, not inside a subgraph.");
        const { graph } = addNote(store.getState().graph, paneMenu.flow);
        store.getState().change(() => graph);
      },
      reroute: () => {
        const s = store.getState();
        const edge = s.graph.edges.find((e) => e.id === s.selectedEdges[0]);
        const at = paneMenu?.flow;
        if (s.subgraphPath.length)
          return s.notify("info", "Reroutes go on the top level of the workflow, not inside a subgraph.");
        const added = edge && at ? addReroute(s.graph, edge.id, at) : null;
        if (!added)
          return s.notify("info", "Select one link that is not rerouted yet, then right-click where the reroute goes.");
        s.change(() => added.graph);
      },
      selectAll: () => store.getState().selectAll(),
      fitView: () => void flow.fitView({ padding: 0.2, maxZoom: 1, duration: 200 }),
    }),
    [paneMenu, store, groupSelection, autoLayout, flow],
  );

  // Keyboard shortcuts and clipboard events.
  useEffect(() => {
    const onKeyDown = (e: KeyboardEvent) => {
      const action = matchShortcut(e);
      if (!action) return;
      if (readOnly && !READ_ONLY_ACTIONS.has(action)) return;
      if (isEditableTarget(e.target) && !GLOBAL_ACTIONS.has(action)) return;
      const s = store.getState();
      e.preventDefault();
      switch (action) {
        case "undo":
          return s.undo();
        case "redo":
          return s.redo();
        case "duplicate":
          return s.duplicateSelection();
        case "delete":
          return s.deleteSelection();
        case "save":
          return onSave?.();
        case "run":
          return onRun?.();
        case "bypass":
          return s.toggleMode("bypass");
        case "mute":
          return s.toggleMode("mute");
        case "selectAll":
          return s.selectAll();
        case "help":
          return setHelp((h) => !h);
        case "fitView":
          return void flow.fitView({ padding: 0.2, maxZoom: 1, duration: 200 });
        default:
          return;
      }
    };
    const onCopy = (e: ClipboardEvent) => {
      if (isEditableTarget(e.target) || window.getSelection()?.toString()) return;
      const text = store.getState().copySelection();
      if (!text || !e.clipboardData) return;
      e.clipboardData.setData("text/plain", text);
      lastCopied.current = text;
      e.preventDefault();
    };
    const onPaste = (e: ClipboardEvent) => {
      if (readOnly || isEditableTarget(e.target)) return;
      const text = e.clipboardData?.getData("text/plain");
      if (!text) return;
      const at = pointer.current ?? undefined;
      if (store.getState().paste(text, at)) e.preventDefault();
    };
    window.addEventListener("keydown", onKeyDown);
    document.addEventListener("copy", onCopy);
    document.addEventListener("paste", onPaste);
    return () => {
      window.removeEventListener("keydown", onKeyDown);
      document.removeEventListener("copy", onCopy);
      document.removeEventListener("paste", onPaste);
    };
  }, [store, flow, onSave, onRun, readOnly]);

  return (
    <ReadOnlyContext.Provider value={readOnly}>
      <div className={readOnly ? "fy-editor fy-readonly" : "fy-editor"}>
        {!readOnly && <NodePalette schemas={schemas} onAdd={addAtCentre} />}
        <div
          className="fy-canvas"
          ref={wrapper}
          onDoubleClick={onDoubleClick}
          onDragOver={(e) => {
            if (e.dataTransfer.types.includes(NODE_DRAG_MIME)) e.preventDefault();
          }}
          onDrop={onDrop}
          onMouseMove={(e) => {
            pointer.current = flow.screenToFlowPosition({ x: e.clientX, y: e.clientY });
          }}
        >
          <ReactFlow<AppNode, AppEdge>
            onNodeDoubleClick={onNodeDoubleClick}
            nodes={nodes}
            edges={edges}
            nodeTypes={nodeTypes}
            onNodesChange={onNodesChange}
            onEdgesChange={onEdgesChange}
            onNodeDragStart={onNodeDragStart}
            onNodeDragStop={onNodeDragStop}
            nodesDraggable={!readOnly}
            nodesConnectable={!readOnly}
            // Selecting is no edit: read-only nodes stay selectable so that they take pointer events (scroll a
            // text, open an output) and can be copied into a workflow of one's own.
            elementsSelectable
            onConnect={onConnect}
            onConnectEnd={onConnectEnd}
            isValidConnection={isValidConnection}
            onNodeContextMenu={onNodeContextMenu}
            onPaneClick={onPaneClick}
            onPaneContextMenu={onPaneContextMenu}
            onMoveEnd={onMoveEnd}
            deleteKeyCode={null}
            selectionKeyCode="Shift"
            multiSelectionKeyCode={MULTI_SELECTION_KEYS}
            zoomOnDoubleClick={false}
            defaultViewport={startViewport ?? DEFAULT_VIEWPORT}
            minZoom={0.1}
            maxZoom={2.5}
            fitView={!initialViewport && hasNodes}
            fitViewOptions={FIT_VIEW_OPTIONS}
            proOptions={PRO_OPTIONS}
            className={overview ? "fy-overview" : undefined}
          >
            <Background gap={20} />
            <MiniMap
              pannable
              zoomable
              nodeStrokeWidth={3}
              bgColor="#1f2229"
              maskColor="#00000088"
              nodeColor="#4b5263"
            />
            <Controls showInteractive={false} />
          </ReactFlow>
          <SubgraphBreadcrumb />
          <div className="fy-canvas-toolbar">
            {!readOnly && (
              <>
                <button type="button" onClick={() => store.getState().undo()} title="Undo (Ctrl+Z)">
                  Undo
                </button>
                <button type="button" onClick={() => store.getState().redo()} title="Redo (Ctrl+Y)">
                  Redo
                </button>
                <button type="button" onClick={groupSelection} title="Draw a titled group around the selected nodes">
                  Group selection
                </button>
                <SubgraphButtons />
              </>
            )}
            <button
              type="button"
              onClick={() => void flow.fitView({ padding: 0.2, maxZoom: 1, duration: 200 })}
              title="Fit view (F)"
            >
              Fit view
            </button>
            {!readOnly && (
              <button type="button" onClick={() => void autoLayout()} title="Arrange nodes left to right">
                Auto layout
              </button>
            )}
            <button type="button" onClick={() => setHelp((h) => !h)} title="Keyboard shortcuts (?)">
              ?
            </button>
          </div>
          {!hasNodes && !readOnly && (
            <div className="fy-canvas-empty">Double-click the canvas or pick a node from the palette to start.</div>
          )}
          {search && (
            <NodeSearchPopup
              schemas={searchSchemas}
              at={search.screen}
              {...(search.pending
                ? {
                    title:
                      search.pending.kind === "output"
                        ? `Nodes that take ${search.pending.type}`
                        : `Nodes that give ${search.pending.type}`,
                  }
                : {})}
              onPick={pickFromSearch}
              onClose={() => setSearch(null)}
            />
          )}
          {menu && <NodeContextMenu menu={menu} onClose={() => setMenu(null)} />}
          {paneMenu && (
            <CanvasContextMenu menu={paneMenu} actions={paneMenuActions} onClose={() => setPaneMenu(null)} />
          )}
          {help && <HelpPanel onClose={() => setHelp(false)} />}
          <NoticeToast />
        </div>
        {aside}
      </div>
    </ReadOnlyContext.Provider>
  );
}

/** The editor canvas with its palette; needs an EditorStoreProvider above it. */
export function EditorCanvas(props: EditorCanvasProps) {
  return (
    <ReactFlowProvider>
      <CanvasInner {...props} />
    </ReactFlowProvider>
  );
}
