// The node search popup: opened by a double-click on the pane, the canvas menu's "Add node" or a link dropped in
// empty space (then it lists the compatible nodes only and links the one picked to the dragged end).
import { useReactFlow } from "@xyflow/react";
import { useCallback, useMemo, useState, type MouseEvent as ReactMouseEvent, type RefObject } from "react";
import type { NodeSchema } from "../../api/schemas";
import { compatibleNodeTypes, type ConnectionRequest } from "../connection-rules";
import type { AppEdge, AppNode } from "../flow-types";
import type { Catalog, Position } from "../graph-model";
import { useEditorStoreApi } from "../store-context";
import type { PlaceNode } from "./use-node-placement";

/** A link dropped in empty space: the node picked gets linked to this end. */
export type PendingLink =
  | { kind: "output"; nodeId: string; index: number; type: string }
  | { kind: "input"; nodeId: string; name: string; type: string };

export interface SearchState {
  /** Where the popup opens, in the canvas wrapper's pixels. */
  screen: Position;
  /** Where the node picked goes, in flow coordinates. */
  flow: Position;
  pending?: PendingLink;
}

/** The link that joins the new node `id` (of `schema`) to the dragged end, or null when none of its slots fits. */
export function linkToPending(pending: PendingLink, schema: NodeSchema, id: string): ConnectionRequest | null {
  const match = compatibleNodeTypes(new Map([[schema.type, schema]]), { kind: pending.kind, type: pending.type })[0];
  if (!match) return null;
  return pending.kind === "output"
    ? { source: pending.nodeId, sourceOutput: pending.index, target: id, targetInput: String(match.slot) }
    : { source: id, sourceOutput: Number(match.slot), target: pending.nodeId, targetInput: pending.name };
}

/** The popup's title: what a dropped link's nodes must take or give (none for a plain search). */
export function searchTitle(pending: PendingLink | undefined): string | undefined {
  if (!pending) return undefined;
  return pending.kind === "output" ? `Nodes that take ${pending.type}` : `Nodes that give ${pending.type}`;
}

export function useNodeSearch(
  wrapper: RefObject<HTMLDivElement | null>,
  catalog: Catalog,
  schemas: NodeSchema[],
  placeNode: PlaceNode,
  readOnly: boolean,
) {
  const store = useEditorStoreApi();
  const flow = useReactFlow<AppNode, AppEdge>();
  const [search, setSearch] = useState<SearchState | null>(null);

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
      const link = id && search.pending ? linkToPending(search.pending, schema, id) : null;
      if (link) s.connect(link);
      setSearch(null);
    },
    [search, store, placeNode],
  );

  const closeSearch = useCallback(() => setSearch(null), []);

  // A double-click on the pane (not on a node) opens the search there.
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
    [flow, readOnly, wrapper],
  );

  return { search, openSearch: setSearch, closeSearch, searchSchemas, pickFromSearch, onDoubleClick };
}
