// Auto layout with elkjs (layered, left to right), using the sizes React Flow measured.
import type { ELK } from "elkjs/lib/elk-api";
import type { EditorGraph, Position } from "./graph-model";

let elkPromise: Promise<ELK> | null = null;
/** elkjs is large (~1.5 MB): loaded on first use, in its own chunk. */
function loadElk(): Promise<ELK> {
  elkPromise ??= import("elkjs/lib/elk.bundled.js").then((m) => new m.default());
  return elkPromise;
}

export async function layoutGraph(
  graph: EditorGraph,
  sizes: Record<string, { width: number; height: number }>,
): Promise<Record<string, Position>> {
  const nodes = Object.values(graph.nodes);
  if (!nodes.length) return {};
  const elk = await loadElk();
  const result = await elk.layout({
    id: "root",
    layoutOptions: {
      "elk.algorithm": "layered",
      "elk.direction": "RIGHT",
      "elk.spacing.nodeNode": "40",
      "elk.layered.spacing.nodeNodeBetweenLayers": "80",
      "elk.layered.nodePlacement.strategy": "BRANDES_KOEPF",
    },
    children: nodes.map((n) => ({
      id: n.id,
      width: sizes[n.id]?.width ?? n.width ?? 240,
      height: sizes[n.id]?.height ?? n.height ?? 120,
    })),
    edges: graph.edges.map((e) => ({ id: e.id, sources: [e.source], targets: [e.target] })),
  });
  const positions: Record<string, Position> = {};
  for (const child of result.children ?? []) positions[child.id] = { x: child.x ?? 0, y: child.y ?? 0 };
  return positions;
}
