// React Flow's node and edge arrays, kept in step with the editor store, and the changes React Flow reports
// (drag steps, measurements, selection) turned into store actions.
import { applyNodeChanges, type EdgeChange, type NodeChange } from "@xyflow/react";
import { useCallback, useEffect, useRef, useState } from "react";
import { GROUP_NODE_PREFIX, type AppEdge, type AppNode } from "../flow-types";
import { moveGroupMembers, nodeChangeEffects, syncFlowEdges, syncFlowNodes } from "../flow-sync";
import type { Position } from "../graph-model";
import { moveGroup, nodesInGroup } from "../groups";
import { moveCanvasItems, NOTE_NODE_PREFIX, REROUTE_NODE_PREFIX } from "../canvas-items";
import type { EditorState } from "../store";
import { useEditorStoreApi } from "../store-context";

/** A group being dragged: where it and the nodes it carries started (found when the drag starts). */
export interface GroupDrag {
  groupId: string;
  start: Position;
  members: Map<string, Position>;
}

/** The drag that starts when the canvas item `nodeId` (a group's frame, a note, a reroute) is grabbed: the
 * group's start and its members' (null when it is no group). */
export function groupDragFor(s: Pick<EditorState, "graph" | "measured">, nodeId: string): GroupDrag | null {
  const groupId = nodeId.slice(GROUP_NODE_PREFIX.length);
  const group = s.graph.groups.find((g) => g.id === groupId);
  return group
    ? {
        groupId,
        start: { x: group.x, y: group.y },
        members: new Map(nodesInGroup(s.graph, group, s.measured).map((id) => [id, s.graph.nodes[id]!.position])),
      }
    : null;
}

/** The edge selection after React Flow's `changes`, or null when they select or deselect no edge. */
export function edgeSelectionAfter(
  changes: readonly EdgeChange<AppEdge>[],
  selected: readonly string[],
): string[] | null {
  let selection: Set<string> | null = null;
  for (const c of changes) {
    if (c.type === "select") {
      selection ??= new Set(selected);
      if (c.selected) selection.add(c.id);
      else selection.delete(c.id);
    }
  }
  return selection ? [...selection] : null;
}

/** The nodes and edges React Flow draws, and its change handlers (stable: React Flow copies them into its store). */
export function useFlowElements(readOnly: boolean) {
  const store = useEditorStoreApi();
  // React Flow's changes (drag steps, measurements, selection) are applied to these arrays directly; store
  // changes are merged in reusing unchanged objects (see flow-sync.ts).
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
      const isItem =
        node.id.startsWith(GROUP_NODE_PREFIX) ||
        node.id.startsWith(NOTE_NODE_PREFIX) ||
        node.id.startsWith(REROUTE_NODE_PREFIX);
      // Grabbing a plain node leaves a group drag (if any) as it was.
      if (isItem) groupDrag.current = groupDragFor(s, node.id);
    },
    [store],
  );
  const onNodeDragStop = useCallback(() => {
    groupDrag.current = null;
  }, []);

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
      const selection = edgeSelectionAfter(changes, s.selectedEdges);
      if (selection) s.select(store.getState().selectedNodes, selection);
    },
    [store],
  );

  return { nodes, edges, onNodesChange, onEdgesChange, onNodeDragStart, onNodeDragStop };
}
