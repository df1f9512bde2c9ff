// Adding nodes where the person points: at a spot (search popup, link drop), at the view's centre (palette
// click) or where a palette entry is dropped, moved to the nearest free spot when that one is taken.
import { useReactFlow } from "@xyflow/react";
import { useCallback, type DragEvent, type RefObject } from "react";
import type { AppEdge, AppNode } from "../flow-types";
import type { Position } from "../graph-model";
import { estimateNodeSize, freeSpot, nodeRects } from "../placement";
import { rememberNodeType } from "../recent-nodes";
import { useEditorStoreApi } from "../store-context";
import { NODE_DRAG_MIME } from "../components/node-palette";

export type PlaceNode = (type: string, want: Position, anchor?: "corner" | "centre") => string | null;

/** Drop handlers for the canvas wrapper and `placeNode`, which adds a node and returns its id (null if refused). */
export function useNodePlacement(wrapper: RefObject<HTMLDivElement | null>, readOnly: boolean) {
  const store = useEditorStoreApi();
  const flow = useReactFlow<AppNode, AppEdge>();

  /** Add a node of `type` at `want` (its top-left, or its centre) or, when that is taken, the nearest free spot. */
  const placeNode = useCallback<PlaceNode>(
    (type, want, anchor = "corner") => {
      const s = store.getState();
      const size = estimateNodeSize(s.catalog.get(type));
      const corner = anchor === "centre" ? { x: want.x - size.width / 2, y: want.y - size.height / 2 } : want;
      const id = s.addNode(type, freeSpot(nodeRects(s.graph, s.measured), corner, size));
      if (id) rememberNodeType(type);
      return id;
    },
    [store],
  );

  const addAtCentre = useCallback(
    (type: string) => {
      const rect = wrapper.current?.getBoundingClientRect();
      const centre = rect
        ? flow.screenToFlowPosition({ x: rect.left + rect.width / 2, y: rect.top + rect.height / 2 })
        : { x: 0, y: 0 };
      placeNode(type, centre, "centre");
    },
    [flow, placeNode, wrapper],
  );

  const onDragOver = useCallback((e: DragEvent) => {
    if (e.dataTransfer.types.includes(NODE_DRAG_MIME)) e.preventDefault();
  }, []);

  const onDrop = useCallback(
    (e: DragEvent) => {
      const type = e.dataTransfer.getData(NODE_DRAG_MIME);
      if (!type || readOnly) return;
      e.preventDefault();
      placeNode(type, flow.screenToFlowPosition({ x: e.clientX, y: e.clientY }));
    },
    [flow, placeNode, readOnly],
  );

  return { placeNode, addAtCentre, onDragOver, onDrop };
}
