// The right-click menus: a node's (NodeContextMenu) and the canvas's (CanvasContextMenu, also a group frame's),
// and what the canvas menu's entries do where it was opened.
import { useReactFlow } from "@xyflow/react";
import { useCallback, useMemo, useState, type MouseEvent as ReactMouseEvent, type RefObject } from "react";
import { addNote, addReroute } from "../canvas-items";
import { GROUP_NODE_PREFIX, type AppEdge, type AppNode } from "../flow-types";
import type { Position } from "../graph-model";
import { addGroup, nextGroupId } from "../groups";
import { useEditorStoreApi } from "../store-context";
import type { CanvasMenuState } from "../components/canvas-context-menu";
import type { MenuState } from "../components/node-context-menu";
import type { SearchState } from "./use-node-search";

export interface CanvasMenuDeps {
  wrapper: RefObject<HTMLDivElement | null>;
  readOnly: boolean;
  openSearch: (search: SearchState) => void;
  pasteAt: (at: Position | undefined) => void;
  groupSelection: () => void;
  autoLayout: () => Promise<void>;
  fitView: () => void;
}

export function useCanvasMenus({
  wrapper,
  readOnly,
  openSearch,
  pasteAt,
  groupSelection,
  autoLayout,
  fitView,
}: CanvasMenuDeps) {
  const store = useEditorStoreApi();
  const flow = useReactFlow<AppNode, AppEdge>();
  const [menu, setMenu] = useState<MenuState | null>(null);
  const [paneMenu, setPaneMenu] = useState<CanvasMenuState | null>(null);

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
    [store, readOnly, flow, wrapper],
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
    [flow, readOnly, wrapper],
  );
  const closeMenu = useCallback(() => setMenu(null), []);
  const closePaneMenu = useCallback(() => setPaneMenu(null), []);

  const paneMenuActions = useMemo(
    () => ({
      addNode: () => {
        if (paneMenu) openSearch({ screen: { x: paneMenu.x, y: paneMenu.y }, flow: paneMenu.flow });
      },
      paste: () => pasteAt(paneMenu?.flow),
      group: () => {
        const s = store.getState();
        if (s.selectedNodes.length) return groupSelection();
        if (!paneMenu) return;
        const group = {
          id: nextGroupId(s.graph, s.idSpace),
          title: "Group",
          x: Math.round(paneMenu.flow.x),
          y: Math.round(paneMenu.flow.y),
          width: 400,
          height: 260,
        };
        s.change((g) => addGroup(g, group));
      },
      arrange: () => void autoLayout(),
      note: () => {
        if (!paneMenu) return;
        // Inside an open subgraph the view is rebuilt from the definition's nodes: notes belong to the top level.
        if (store.getState().subgraphPath.length)
          return store.getState().notify("info", "Notes go on the top level of the workflow, not inside a subgraph.");
        const { graph } = addNote(
          store.getState().graph,
          paneMenu.flow,
          undefined,
          undefined,
          store.getState().idSpace,
        );
        store.getState().change(() => graph);
      },
      reroute: () => {
        const s = store.getState();
        const edge = s.graph.edges.find((e) => e.id === s.selectedEdges[0]);
        const at = paneMenu?.flow;
        if (s.subgraphPath.length)
          return s.notify("info", "Reroutes go on the top level of the workflow, not inside a subgraph.");
        const added = edge && at ? addReroute(s.graph, edge.id, at, s.idSpace) : null;
        if (!added)
          return s.notify("info", "Select one link that is not rerouted yet, then right-click where the reroute goes.");
        s.change(() => added.graph);
      },
      selectAll: () => store.getState().selectAll(),
      fitView,
    }),
    [paneMenu, store, groupSelection, autoLayout, fitView, openSearch, pasteAt],
  );

  return {
    menu,
    paneMenu,
    closeMenu,
    closePaneMenu,
    paneMenuActions,
    onNodeContextMenu,
    onPaneClick,
    onPaneContextMenu,
  };
}
