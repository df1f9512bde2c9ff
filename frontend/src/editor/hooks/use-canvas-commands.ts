// Commands the toolbar, the canvas menu and the shortcuts share: group the selection, arrange, fit the view; and
// opening a subgraph instance by double-clicking it (the breadcrumb leads back out).
import { useReactFlow } from "@xyflow/react";
import { useCallback, type MouseEvent as ReactMouseEvent } from "react";
import { layoutGraph } from "../auto-layout";
import type { AppEdge, AppNode } from "../flow-types";
import { addGroup, groupAround } from "../groups";
import { useEditorStoreApi } from "../store-context";

export function useCanvasCommands(readOnly: boolean) {
  const store = useEditorStoreApi();
  const flow = useReactFlow<AppNode, AppEdge>();

  const groupSelection = useCallback(() => {
    const s = store.getState();
    const group = groupAround(s.graph, s.selectedNodes, s.measured, undefined, s.idSpace);
    if (!group) return s.notify("info", "Select the nodes to group first (Shift+drag draws a selection box).");
    s.change((g) => addGroup(g, group));
  }, [store]);

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

  const fitView = useCallback(() => void flow.fitView({ padding: 0.2, maxZoom: 1, duration: 200 }), [flow]);

  const onNodeDoubleClick = useCallback(
    (_: ReactMouseEvent, node: { id: string }) => {
      if (!readOnly && store.getState().openSubgraph(node.id))
        void flow.fitView({ padding: 0.2, maxZoom: 1, duration: 200 });
    },
    [flow, readOnly, store],
  );

  return { groupSelection, autoLayout, fitView, onNodeDoubleClick };
}
