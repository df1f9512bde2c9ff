// The React Flow canvas: renders the store's graph, turns gestures into store actions, hosts the popups.
import {
  Background,
  Controls,
  MiniMap,
  ReactFlow,
  ReactFlowProvider,
  useReactFlow,
  type Connection,
  type EdgeChange,
  type FinalConnectionState,
  type IsValidConnection,
  type NodeChange,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { useCallback, useEffect, useMemo, useRef, useState, type DragEvent, type MouseEvent as ReactMouseEvent } from "react";
import type { NodeSchema } from "../../api/schemas";
import { layoutGraph } from "../auto-layout";
import { checkConnection, compatibleNodeTypes, type ConnectionRequest } from "../connection-rules";
import { GROUP_NODE_PREFIX, parseHandle, type AppEdge, type AppNode } from "../flow-types";
import type { Position } from "../graph-model";
import { addGroup, groupAround, moveGroup, nodesInGroup } from "../groups";
import { GLOBAL_ACTIONS, isEditableTarget, matchShortcut } from "../shortcuts";
import type { EditorState } from "../store";
import { useEditorStore, useEditorStoreApi } from "../store-context";
import { typeColor } from "../type-colors";
import { nodeTypes as schemaNodeTypes } from "./flow-node";
import { GroupNode } from "./group-node";
import { HelpPanel } from "./help-panel";
import { NodeContextMenu, type MenuState } from "./node-context-menu";
import { NODE_DRAG_MIME, NodePalette } from "./node-palette";
import { NodeSearchPopup } from "./node-search-popup";
import { NoticeToast } from "./notice-toast";

export interface EditorCanvasProps {
  onSave?: () => void;
  onRun?: () => void;
  /** A view only (shared links, no edit rights): no palette, no drags, links or shortcuts that edit. */
  readOnly?: boolean;
}

const nodeTypes = { ...schemaNodeTypes, flowgroup: GroupNode };

interface SearchState {
  screen: Position;
  flow: Position;
  /** A link dropped in empty space: the new node gets linked to this end. */
  pending?: { kind: "output"; nodeId: string; index: number; type: string } | { kind: "input"; nodeId: string; name: string; type: string };
}

/** Turn a React Flow connection into an output → input request (links may be drawn from either end). */
function toRequest(c: Pick<Connection, "source" | "sourceHandle" | "target" | "targetHandle">): ConnectionRequest | null {
  const out = parseHandle(c.sourceHandle);
  const inp = parseHandle(c.targetHandle);
  if (out?.kind === "out" && inp?.kind === "in") return { source: c.source, sourceOutput: out.index, target: c.target, targetInput: inp.name };
  if (out?.kind === "in" && inp?.kind === "out") return { source: c.target, sourceOutput: inp.index, target: c.source, targetInput: out.name };
  return null;
}

const selectGraph = (s: EditorState) => s.graph;
const selectCatalog = (s: EditorState) => s.catalog;
const selectSelectedNodes = (s: EditorState) => s.selectedNodes;
const selectSelectedEdges = (s: EditorState) => s.selectedEdges;
const selectMeasured = (s: EditorState) => s.measured;

function CanvasInner({ onSave, onRun, readOnly = false }: EditorCanvasProps) {
  const store = useEditorStoreApi();
  const graph = useEditorStore(selectGraph);
  const catalog = useEditorStore(selectCatalog);
  const selectedNodes = useEditorStore(selectSelectedNodes);
  const selectedEdges = useEditorStore(selectSelectedEdges);
  const measured = useEditorStore(selectMeasured);
  const flow = useReactFlow<AppNode, AppEdge>();
  const wrapper = useRef<HTMLDivElement>(null);
  const pointer = useRef<Position | null>(null);
  const [search, setSearch] = useState<SearchState | null>(null);
  const [menu, setMenu] = useState<MenuState | null>(null);
  const [help, setHelp] = useState(false);
  const schemas = useMemo(() => [...catalog.values()], [catalog]);

  const nodes = useMemo<AppNode[]>(() => {
    const selected = new Set(selectedNodes);
    // Groups first: drawn behind the nodes. Only their title bar drags (see .fy-group-title).
    const groups = graph.groups.map(
      (g): AppNode => ({
        id: GROUP_NODE_PREFIX + g.id,
        type: "flowgroup",
        position: { x: g.x, y: g.y },
        data: { groupId: g.id, readOnly },
        selectable: false,
        draggable: !readOnly,
        dragHandle: ".fy-group-title",
        width: g.width,
        height: g.height,
      }),
    );
    return groups.concat(
      Object.values(graph.nodes).map((n): AppNode => {
        const base = { id: n.id, position: n.position, selected: selected.has(n.id), measured: measured[n.id] };
        return catalog.has(n.type)
          ? { ...base, type: "schema", data: { nodeId: n.id } }
          : { ...base, type: "missing", data: { nodeId: n.id, nodeType: n.type } };
      }),
    );
  }, [graph.nodes, graph.groups, catalog, selectedNodes, measured, readOnly]);
  /** The nodes a group carries while it is dragged (found when the drag starts). */
  const groupDrag = useRef<{ groupId: string; members: string[] } | null>(null);

  const edges = useMemo<AppEdge[]>(() => {
    const selected = new Set(selectedEdges);
    return graph.edges.map((e) => {
      const source = graph.nodes[e.source];
      const valueType = (source && catalog.get(source.type)?.outputs[e.sourceOutput]?.type) ?? "ANY";
      const target = graph.nodes[e.target];
      const muted = source?.mode === "mute" || target?.mode === "mute";
      return {
        id: e.id,
        source: e.source,
        sourceHandle: `out:${e.sourceOutput}`,
        target: e.target,
        targetHandle: `in:${e.targetInput}`,
        selected: selected.has(e.id),
        data: { valueType },
        style: { stroke: typeColor(valueType), strokeWidth: 2, opacity: muted ? 0.35 : 1 },
      };
    });
  }, [graph.edges, graph.nodes, catalog, selectedEdges]);

  const onNodesChange = useCallback(
    (changes: NodeChange<AppNode>[]) => {
      const s = store.getState();
      const positions: Record<string, Position> = {};
      let selection: Set<string> | null = null;
      for (const c of changes) {
        if ("id" in c && c.id.startsWith(GROUP_NODE_PREFIX)) {
          if (c.type === "position" && c.position) {
            const groupId = c.id.slice(GROUP_NODE_PREFIX.length);
            const members = groupDrag.current?.groupId === groupId ? groupDrag.current.members : [];
            const to = c.position;
            store.setState((st) => ({ graph: moveGroup(st.graph, groupId, to, members) }));
          }
          continue;
        }
        if (c.type === "position" && c.position) positions[c.id] = c.position;
        else if (c.type === "dimensions" && c.dimensions) s.setMeasured(c.id, c.dimensions);
        else if (c.type === "select") {
          selection ??= new Set(s.selectedNodes);
          if (c.selected) selection.add(c.id);
          else selection.delete(c.id);
        }
      }
      if (Object.keys(positions).length) s.moveNodes(positions);
      if (selection) s.select([...selection], store.getState().selectedEdges);
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
      const req = toRequest({ source: c.source, target: c.target, sourceHandle: c.sourceHandle ?? null, targetHandle: c.targetHandle ?? null });
      return req !== null && checkConnection(store.getState().graph, store.getState().catalog, req).ok;
    },
    [store],
  );

  const onConnect = useCallback(
    (c: Connection) => {
      const req = toRequest(c);
      if (req) store.getState().connect(req);
    },
    [store],
  );

  const onConnectEnd = useCallback(
    (event: MouseEvent | TouchEvent, state: FinalConnectionState) => {
      if (!state.fromHandle?.id || !state.fromNode) return;
      const s = store.getState();
      const from = parseHandle(state.fromHandle.id);
      if (state.toHandle?.id && state.isValid === false) {
        // Dropped on a socket that refuses the link: say why.
        const conn = { source: state.fromNode.id, sourceHandle: state.fromHandle.id, target: state.toHandle.nodeId, targetHandle: state.toHandle.id };
        const req = toRequest(conn);
        const verdict = req ? checkConnection(s.graph, s.catalog, req) : { ok: false as const, reason: "Link an output to an input." };
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
    [store, flow],
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
      const id = s.addNode(schema.type, search.flow);
      const pending = search.pending;
      if (id && pending) {
        const match = compatibleNodeTypes(new Map([[schema.type, schema]]), { kind: pending.kind, type: pending.type })[0];
        if (match && pending.kind === "output") {
          s.connect({ source: pending.nodeId, sourceOutput: pending.index, target: id, targetInput: String(match.slot) });
        } else if (match && pending.kind === "input") {
          s.connect({ source: id, sourceOutput: Number(match.slot), target: pending.nodeId, targetInput: pending.name });
        }
      }
      setSearch(null);
    },
    [search, store],
  );

  const groupSelection = useCallback(() => {
    const s = store.getState();
    const group = groupAround(s.graph, s.selectedNodes, s.measured);
    if (!group) return s.notify("info", "Select the nodes to group first (Shift+drag draws a selection box).");
    s.change((g) => addGroup(g, group));
  }, [store]);

  const onDoubleClick = useCallback(
    (e: ReactMouseEvent) => {
      const target = e.target as Element;
      if (readOnly || !target.classList.contains("react-flow__pane") || !wrapper.current) return;
      const rect = wrapper.current.getBoundingClientRect();
      setSearch({ screen: { x: e.clientX - rect.left, y: e.clientY - rect.top }, flow: flow.screenToFlowPosition({ x: e.clientX, y: e.clientY }) });
    },
    [flow, readOnly],
  );

  const addAtCentre = useCallback(
    (type: string) => {
      const rect = wrapper.current?.getBoundingClientRect();
      const centre = rect ? flow.screenToFlowPosition({ x: rect.left + rect.width / 2, y: rect.top + rect.height / 2 }) : { x: 0, y: 0 };
      store.getState().addNode(type, { x: centre.x - 120, y: centre.y - 60 });
    },
    [flow, store],
  );

  const onDrop = useCallback(
    (e: DragEvent) => {
      const type = e.dataTransfer.getData(NODE_DRAG_MIME);
      if (!type) return;
      e.preventDefault();
      store.getState().addNode(type, flow.screenToFlowPosition({ x: e.clientX, y: e.clientY }));
    },
    [flow, store],
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

  // Keyboard shortcuts and clipboard events.
  useEffect(() => {
    const onKeyDown = (e: KeyboardEvent) => {
      const action = matchShortcut(e);
      if (!action) return;
      if (readOnly && action !== "fitView" && action !== "help") return;
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
          nodes={nodes}
          edges={edges}
          nodeTypes={nodeTypes}
          onNodesChange={onNodesChange}
          onEdgesChange={onEdgesChange}
          onNodeDragStart={(_, node) => {
            const s = store.getState();
            s.checkpoint();
            if (node.id.startsWith(GROUP_NODE_PREFIX)) {
              const groupId = node.id.slice(GROUP_NODE_PREFIX.length);
              const group = s.graph.groups.find((g) => g.id === groupId);
              groupDrag.current = group ? { groupId, members: nodesInGroup(s.graph, group, s.measured) } : null;
            }
          }}
          onNodeDragStop={() => {
            groupDrag.current = null;
          }}
          nodesDraggable={!readOnly}
          nodesConnectable={!readOnly}
          elementsSelectable={!readOnly}
          onConnect={onConnect}
          onConnectEnd={onConnectEnd}
          isValidConnection={isValidConnection}
          onNodeContextMenu={(e, node) => {
            e.preventDefault();
            const rect = wrapper.current?.getBoundingClientRect();
            const s = store.getState();
            if (!s.selectedNodes.includes(node.id)) s.select([node.id]);
            setMenu({ nodeId: node.id, x: e.clientX - (rect?.left ?? 0), y: e.clientY - (rect?.top ?? 0) });
          }}
          onPaneClick={() => setMenu(null)}
          onMoveEnd={(_, viewport) => store.getState().setViewport(viewport)}
          deleteKeyCode={null}
          selectionKeyCode="Shift"
          multiSelectionKeyCode={["Control", "Meta"]}
          zoomOnDoubleClick={false}
          defaultViewport={graph.viewport ?? { x: 0, y: 0, zoom: 1 }}
          minZoom={0.1}
          maxZoom={2.5}
          fitView={!graph.viewport && Object.keys(graph.nodes).length > 0}
          fitViewOptions={{ padding: 0.2, maxZoom: 1 }}
          proOptions={{ hideAttribution: true }}
        >
          <Background gap={20} />
          <MiniMap pannable zoomable nodeStrokeWidth={3} bgColor="#1f2229" maskColor="#00000088" nodeColor="#4b5263" />
          <Controls showInteractive={false} />
        </ReactFlow>
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
            </>
          )}
          <button type="button" onClick={() => void flow.fitView({ padding: 0.2, maxZoom: 1, duration: 200 })} title="Fit view (F)">
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
        {Object.keys(graph.nodes).length === 0 && !readOnly && (
          <div className="fy-canvas-empty">Double-click the canvas or pick a node from the palette to start.</div>
        )}
        {search && (
          <NodeSearchPopup
            schemas={searchSchemas}
            at={search.screen}
            {...(search.pending ? { title: search.pending.kind === "output" ? `Nodes that take ${search.pending.type}` : `Nodes that give ${search.pending.type}` } : {})}
            onPick={pickFromSearch}
            onClose={() => setSearch(null)}
          />
        )}
        {menu && <NodeContextMenu menu={menu} onClose={() => setMenu(null)} />}
        {help && <HelpPanel onClose={() => setHelp(false)} />}
        <NoticeToast />
      </div>
    </div>
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
