// The React Flow canvas: renders the store's graph, turns gestures into store actions, hosts the popups.
import { SubgraphBreadcrumb, SubgraphButtons } from "./subgraph-bar";
import {
  Background,
  Controls,
  MiniMap,
  ReactFlow,
  ReactFlowProvider,
  useStore as useFlowStore,
  type ReactFlowState,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { useCallback, useMemo, useRef, useState, type ReactNode } from "react";
import type { AppEdge, AppNode } from "../flow-types";
import { estimateFitViewport } from "../flow-sync";
import type { Viewport } from "../graph-model";
import { useCanvasCommands } from "../hooks/use-canvas-commands";
import { useCanvasKeyboard } from "../hooks/use-canvas-keyboard";
import { useCanvasMenus } from "../hooks/use-canvas-menus";
import { useClipboard } from "../hooks/use-clipboard";
import { useFlowElements } from "../hooks/use-flow-elements";
import { useLinkDrop } from "../hooks/use-link-drop";
import { useNodePlacement } from "../hooks/use-node-placement";
import { searchTitle, useNodeSearch } from "../hooks/use-node-search";
import { nodeLook } from "../node-look";
import { ReadOnlyContext } from "../read-only";
import type { EditorState } from "../store";
import { useEditorStore, useEditorStoreApi } from "../store-context";
import { nodeTypes as schemaNodeTypes } from "./flow-node";
import { GroupNode } from "./group-node";
import { NoteNode } from "./note-node";
import { RerouteNode } from "./reroute-node";
import { HelpPanel } from "./help-panel";
import { CanvasContextMenu } from "./canvas-context-menu";
import { NodeContextMenu } from "./node-context-menu";
import { NodePalette } from "./node-palette";
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
const selectCatalog = (s: EditorState) => s.catalog;
const selectHasNodes = (s: EditorState) => {
  for (const id in s.graph.nodes) if (id) return true;
  return false;
};

/** Whether the zoom draws nodes as boxes (node-look.ts): one subscription for the canvas's class, not one per node. */
const selectOverview = (s: ReactFlowState) => nodeLook(s.transform[2]) === "overview";

/** The canvas without its ReactFlowProvider (exported for tests that read React Flow's store next to it).
 * Its behaviour lives in hooks by concern (../hooks/); this composes them and lays the canvas out. */
export function CanvasInner({ onSave, onRun, readOnly = false, aside }: EditorCanvasProps) {
  const store = useEditorStoreApi();
  const catalog = useEditorStore(selectCatalog);
  const hasNodes = useEditorStore(selectHasNodes);
  const overview = useFlowStore(selectOverview);
  const wrapper = useRef<HTMLDivElement>(null);
  const [help, setHelp] = useState(false);
  const toggleHelp = useCallback(() => setHelp((h) => !h), []);
  const schemas = useMemo(() => [...catalog.values()], [catalog]);
  // Read once: React Flow takes the initial viewport and fitView on mount only. Without a saved viewport, start
  // from an estimate of the fitted one (fitView still corrects it once the nodes are measured).
  const [initialViewport] = useState(() => store.getState().graph.viewport ?? null);
  const [startViewport] = useState(
    () =>
      initialViewport ??
      estimateFitViewport(store.getState().graph, window.innerWidth - (readOnly ? 0 : 230), window.innerHeight - 60),
  );
  const onMoveEnd = useCallback((_: unknown, viewport: Viewport) => store.getState().setViewport(viewport), [store]);

  const { nodes, edges, onNodesChange, onEdgesChange, onNodeDragStart, onNodeDragStop } = useFlowElements(readOnly);
  const { placeNode, addAtCentre, onDragOver, onDrop } = useNodePlacement(wrapper, readOnly);
  const { search, openSearch, closeSearch, searchSchemas, pickFromSearch, onDoubleClick } = useNodeSearch(
    wrapper,
    catalog,
    schemas,
    placeNode,
    readOnly,
  );
  const { isValidConnection, onConnect, onConnectEnd } = useLinkDrop(wrapper, openSearch, readOnly);
  const { trackPointer, pasteAt } = useClipboard(readOnly);
  const { groupSelection, autoLayout, fitView, onNodeDoubleClick } = useCanvasCommands(readOnly);
  const menus = useCanvasMenus({ wrapper, readOnly, openSearch, pasteAt, groupSelection, autoLayout, fitView });
  useCanvasKeyboard({ readOnly, onSave, onRun, toggleHelp });
  const title = searchTitle(search?.pending);

  return (
    <ReadOnlyContext.Provider value={readOnly}>
      <div className={readOnly ? "fy-editor fy-readonly" : "fy-editor"}>
        {!readOnly && <NodePalette schemas={schemas} onAdd={addAtCentre} />}
        <div
          className="fy-canvas"
          ref={wrapper}
          onDoubleClick={onDoubleClick}
          onDragOver={onDragOver}
          onDrop={onDrop}
          onMouseMove={trackPointer}
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
            onNodeContextMenu={menus.onNodeContextMenu}
            onPaneClick={menus.onPaneClick}
            onPaneContextMenu={menus.onPaneContextMenu}
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
            <button type="button" onClick={fitView} title="Fit view (F)">
              Fit view
            </button>
            {!readOnly && (
              <button type="button" onClick={() => void autoLayout()} title="Arrange nodes left to right">
                Auto layout
              </button>
            )}
            <button type="button" onClick={toggleHelp} title="Keyboard shortcuts (?)">
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
              {...(title ? { title } : {})}
              onPick={pickFromSearch}
              onClose={closeSearch}
            />
          )}
          {menus.menu && <NodeContextMenu menu={menus.menu} onClose={menus.closeMenu} />}
          {menus.paneMenu && (
            <CanvasContextMenu menu={menus.paneMenu} actions={menus.paneMenuActions} onClose={menus.closePaneMenu} />
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
