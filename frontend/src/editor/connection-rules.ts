// Which links the editor accepts, each refusal with a reason a person can act on.
import type { NodeSchema } from "../api/schemas";
import {
  inputEdge,
  makeEdge,
  removeEdges,
  updateNode,
  type Catalog,
  type EditorEdge,
  type EditorGraph,
} from "./graph-model";
import { isCompatibleSafe } from "./type-compat";

export interface ConnectionRequest {
  source: string;
  sourceOutput: number;
  target: string;
  targetInput: string;
}

export type Verdict = { ok: true } | { ok: false; reason: string };

export function nodeLabel(graph: EditorGraph, catalog: Catalog, id: string): string {
  const node = graph.nodes[id];
  if (!node) return `node ${id}`;
  return node.title ?? catalog.get(node.type)?.display_name ?? node.type;
}

/** True when `target` already (transitively) feeds `source`, so a link source → target closes a loop. */
export function wouldCreateCycle(graph: EditorGraph, source: string, target: string): boolean {
  if (source === target) return true;
  const downstream = new Map<string, string[]>();
  for (const e of graph.edges) {
    const list = downstream.get(e.source);
    if (list) list.push(e.target);
    else downstream.set(e.source, [e.target]);
  }
  const seen = new Set<string>([target]);
  const stack = [target];
  while (stack.length) {
    const id = stack.pop()!;
    for (const next of downstream.get(id) ?? []) {
      if (next === source) return true;
      if (!seen.has(next)) {
        seen.add(next);
        stack.push(next);
      }
    }
  }
  return false;
}

export function checkConnection(graph: EditorGraph, catalog: Catalog, req: ConnectionRequest): Verdict {
  const sourceNode = graph.nodes[req.source];
  const targetNode = graph.nodes[req.target];
  if (!sourceNode || !targetNode) return { ok: false, reason: "That node no longer exists." };
  if (req.source === req.target) return { ok: false, reason: "A node cannot be linked to itself." };
  const sourceSchema = catalog.get(sourceNode.type);
  const targetSchema = catalog.get(targetNode.type);
  if (!sourceSchema)
    return { ok: false, reason: `Node type ${sourceNode.type} is not installed, so its outputs are unknown.` };
  if (!targetSchema)
    return { ok: false, reason: `Node type ${targetNode.type} is not installed, so its inputs are unknown.` };
  const output = sourceSchema.outputs[req.sourceOutput];
  if (!output) return { ok: false, reason: `${sourceSchema.display_name} has no output #${req.sourceOutput + 1}.` };
  const input = targetSchema.inputs.find((i) => i.name === req.targetInput);
  if (!input) return { ok: false, reason: `${targetSchema.display_name} has no input "${req.targetInput}".` };
  if (input.mode === "widget") {
    return { ok: false, reason: `"${input.name}" is set with its widget only and cannot take a link.` };
  }
  if (!isCompatibleSafe(output.type, input.type)) {
    return {
      ok: false,
      reason: `Type mismatch: output "${output.name}" gives ${output.type}, but input "${input.name}" takes ${input.type}.`,
    };
  }
  if (wouldCreateCycle(graph, req.source, req.target)) {
    return {
      ok: false,
      reason: `This link would make a loop: ${nodeLabel(graph, catalog, req.target)} already feeds ${nodeLabel(graph, catalog, req.source)}.`,
    };
  }
  return { ok: true };
}

export type ConnectResult =
  { ok: true; graph: EditorGraph; edge: EditorEdge; replaced?: EditorEdge } | { ok: false; reason: string };

/**
 * Link an output to an input. An input takes one link: a new link replaces the old one. An output may feed
 * many inputs. Linking an input shown as a widget (mode "both") converts it to a socket.
 */
export function connect(graph: EditorGraph, catalog: Catalog, req: ConnectionRequest): ConnectResult {
  const verdict = checkConnection(graph, catalog, req);
  if (!verdict.ok) return verdict;
  const edge = makeEdge(req.source, req.sourceOutput, req.target, req.targetInput);
  const replaced = inputEdge(graph, req.target, req.targetInput);
  if (replaced?.id === edge.id) return { ok: true, graph, edge };
  let next = replaced ? removeEdges(graph, [replaced.id]) : graph;
  next = { ...next, edges: [...next.edges, edge] };
  const spec = catalog.get(graph.nodes[req.target]!.type)?.inputs.find((i) => i.name === req.targetInput);
  if (spec?.mode === "both") {
    next = updateNode(next, req.target, (n) =>
      n.sockets.includes(req.targetInput) ? n : { ...n, sockets: [...n.sockets, req.targetInput] },
    );
  }
  return replaced ? { ok: true, graph: next, edge, replaced } : { ok: true, graph: next, edge };
}

/** Where a new node could be linked when a link is dropped in empty space. */
export interface SlotMatch {
  schema: NodeSchema;
  /** The input name (dragging from an output) or output index (dragging from an input) to link. */
  slot: string | number;
}

/** Node types that have a slot compatible with a dragged link end, with the first such slot. */
export function compatibleNodeTypes(
  catalog: Catalog,
  from: { kind: "output"; type: string } | { kind: "input"; type: string },
): SlotMatch[] {
  const matches: SlotMatch[] = [];
  for (const schema of catalog.values()) {
    if (from.kind === "output") {
      const input = schema.inputs.find((i) => i.mode !== "widget" && isCompatibleSafe(from.type, i.type));
      if (input) matches.push({ schema, slot: input.name });
    } else {
      const index = schema.outputs.findIndex((o) => isCompatibleSafe(o.type, from.type));
      if (index >= 0) matches.push({ schema, slot: index });
    }
  }
  return matches;
}
