// Drawing links: which sockets accept the link being drawn, linking on release, saying why a socket refused it,
// and, for a link dropped in empty space, opening the node search for the dragged end.
import { useReactFlow, type Connection, type FinalConnectionState, type IsValidConnection } from "@xyflow/react";
import { useCallback, type RefObject } from "react";
import type { NodeSchema } from "../../api/schemas";
import { checkConnection, type ConnectionRequest } from "../connection-rules";
import { parseHandle, type AppEdge, type AppNode } from "../flow-types";
import { useEditorStoreApi } from "../store-context";
import type { PendingLink, SearchState } from "./use-node-search";

/** Turn a React Flow connection into an output → input request (links may be drawn from either end). */
export function toRequest(
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

/** The dragged end of a link as the node search needs it: its kind, node and socket type ("ANY" if unknown). */
export function pendingLinkFrom(handle: string, nodeId: string, schema: NodeSchema): PendingLink | null {
  const from = parseHandle(handle);
  if (!from) return null;
  if (from.kind === "out") {
    const type = schema.outputs[from.index]?.type ?? "ANY";
    return { kind: "output", nodeId, index: from.index, type };
  }
  const type = schema.inputs.find((i) => i.name === from.name)?.type ?? "ANY";
  return { kind: "input", nodeId, name: from.name, type };
}

export function useLinkDrop(
  wrapper: RefObject<HTMLDivElement | null>,
  openSearch: (search: SearchState) => void,
  readOnly: boolean,
) {
  const store = useEditorStoreApi();
  const flow = useReactFlow<AppNode, AppEdge>();

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
      if (state.toNode || state.toHandle || !parseHandle(state.fromHandle.id)) return;
      // Dropped in empty space: search nodes compatible with the dragged end, then link the new one.
      const point = "changedTouches" in event ? event.changedTouches[0]! : event;
      const node = s.graph.nodes[state.fromNode.id];
      const schema = node && s.catalog.get(node.type);
      if (!schema || !wrapper.current) return;
      const rect = wrapper.current.getBoundingClientRect();
      const pending = pendingLinkFrom(state.fromHandle.id, node.id, schema);
      if (!pending) return;
      openSearch({
        screen: { x: point.clientX - rect.left, y: point.clientY - rect.top },
        flow: flow.screenToFlowPosition({ x: point.clientX, y: point.clientY }),
        pending,
      });
    },
    [store, flow, readOnly, openSearch, wrapper],
  );

  return { isValidConnection, onConnect, onConnectEnd };
}
