// React Flow node and edge types: node data is a union of per-type nodes.
import type { Edge, Node } from "@xyflow/react";

/** A node whose type is in the catalog: rendered from its schema. */
export type SchemaFlowNode = Node<{ nodeId: string }, "schema">;
/** A node whose type is not installed: kept, shown with its links, not editable. */
export type MissingFlowNode = Node<{ nodeId: string; nodeType: string }, "missing">;
/** A group frame (layout.groups) drawn behind the nodes; its id is `group:<group id>`. */
export type GroupFlowNode = Node<{ groupId: string; readOnly?: boolean }, "flowgroup">;
/** A canvas note (layout.notes); its id is `note:<note id>`. */
export type NoteFlowNode = Node<{ noteId: string; readOnly?: boolean }, "flownote">;
/** A reroute dot (layout.reroutes); its id is `reroute:<reroute id>`. */
export type RerouteFlowNode = Node<{ rerouteId: string; valueType: string; readOnly?: boolean }, "flowreroute">;
export type AppNode = SchemaFlowNode | MissingFlowNode | GroupFlowNode | NoteFlowNode | RerouteFlowNode;
export const GROUP_NODE_PREFIX = "group:";
export type AppEdge = Edge<{ valueType: string }>;

export const inHandle = (name: string) => `in:${name}`;
export const outHandle = (index: number) => `out:${index}`;

export function parseHandle(
  handle: string | null | undefined,
): { kind: "in"; name: string } | { kind: "out"; index: number } | null {
  if (!handle) return null;
  if (handle.startsWith("in:")) return { kind: "in", name: handle.slice(3) };
  if (handle.startsWith("out:")) {
    const index = Number(handle.slice(4));
    return Number.isInteger(index) ? { kind: "out", index } : null;
  }
  return null;
}
