// Notes and reroutes: canvas-only items of the layout (ComfyUI's Note/MarkdownNote and Reroute). Notes never run;
// a reroute is a waypoint the graph's links from one output to some inputs are drawn (and exported) through, the
// links themselves stay direct in the graph. Pure functions over the graph, like groups.ts.
import type { LayoutNote, LayoutReroute } from "../api/schemas";
import { edgeId, nextInSpace, WHOLE_ID_SPACE, type EditorGraph, type IdSpace, type Position } from "./graph-model";

export type EditorNote = LayoutNote;
export type EditorReroute = LayoutReroute;

export const NOTE_NODE_PREFIX = "note:";
export const REROUTE_NODE_PREFIX = "reroute:";
/** The flow edge from a reroute's source into the reroute (the links out of it keep their graph edge ids). */
export const REROUTE_EDGE_PREFIX = "reroute-in:";

function nextId(prefix: string, taken: Iterable<{ id: string }>, space: IdSpace): string {
  if (space !== WHOLE_ID_SPACE)
    return `${prefix}${nextInSpace(
      [...taken].map((t) => Number(t.id.slice(prefix.length))),
      space,
    )}`;
  const ids = new Set([...taken].map((t) => t.id));
  let n = ids.size + 1;
  while (ids.has(`${prefix}${n}`)) n += 1;
  return `${prefix}${n}`;
}

export function addNote(
  graph: EditorGraph,
  at: Position,
  text = "",
  markdown = true,
  space: IdSpace = WHOLE_ID_SPACE,
): { graph: EditorGraph; id: string } {
  const notes = graph.notes ?? [];
  const id = nextId("n", notes, space);
  const note: EditorNote = { id, x: Math.round(at.x), y: Math.round(at.y), width: 260, text, markdown };
  return { graph: { ...graph, notes: [...notes, note] }, id };
}

export function setNoteText(graph: EditorGraph, id: string, text: string): EditorGraph {
  const notes = graph.notes ?? [];
  if (!notes.some((n) => n.id === id && n.text !== text)) return graph;
  return { ...graph, notes: notes.map((n) => (n.id === id ? { ...n, text } : n)) };
}

export function removeNote(graph: EditorGraph, id: string): EditorGraph {
  return { ...graph, notes: (graph.notes ?? []).filter((n) => n.id !== id) };
}

/** Move notes and reroutes, keyed by their flow node ids (`note:n1`, `reroute:r1`). */
export function moveCanvasItems(graph: EditorGraph, moved: Readonly<Record<string, Position>>): EditorGraph {
  const at = (prefix: string, id: string) => moved[prefix + id];
  const notes = graph.notes?.map((n) => {
    const p = at(NOTE_NODE_PREFIX, n.id);
    return p ? { ...n, x: Math.round(p.x), y: Math.round(p.y) } : n;
  });
  const reroutes = graph.reroutes?.map((r) => {
    const p = at(REROUTE_NODE_PREFIX, r.id);
    return p ? { ...r, x: Math.round(p.x), y: Math.round(p.y) } : r;
  });
  return { ...graph, ...(notes ? { notes } : {}), ...(reroutes ? { reroutes } : {}) };
}

/** Route the graph edge `edgeId` through a new reroute at `at`; null when the edge is unknown or already routed. */
export function addReroute(
  graph: EditorGraph,
  id: string,
  at: Position,
  space: IdSpace = WHOLE_ID_SPACE,
): { graph: EditorGraph; id: string } | null {
  const edge = graph.edges.find((e) => e.id === id);
  if (!edge || routedEdges(graph).has(id)) return null;
  const reroutes = graph.reroutes ?? [];
  const rid = nextId("r", reroutes, space);
  const reroute: EditorReroute = {
    id: rid,
    x: Math.round(at.x),
    y: Math.round(at.y),
    source: edge.source,
    output: edge.sourceOutput,
    targets: [[edge.target, edge.targetInput]],
  };
  return { graph: { ...graph, reroutes: [...reroutes, reroute] }, id: rid };
}

export function removeReroute(graph: EditorGraph, id: string): EditorGraph {
  return { ...graph, reroutes: (graph.reroutes ?? []).filter((r) => r.id !== id) };
}

/** Graph edge id -> the reroute it is drawn through (targets whose link is gone are ignored). */
export function routedEdges(graph: EditorGraph): Map<string, EditorReroute> {
  const routed = new Map<string, EditorReroute>();
  const ids = new Set(graph.edges.map((e) => e.id));
  for (const r of graph.reroutes ?? []) {
    for (const [target, input] of r.targets) {
      const id = edgeId(r.source, r.output, target, input);
      if (ids.has(id) && !routed.has(id)) routed.set(id, r);
    }
  }
  return routed;
}

/** The reroutes that still carry a link, each with only its live targets (what is saved and exported). */
export function liveReroutes(graph: EditorGraph): EditorReroute[] {
  const ids = new Set(graph.edges.map((e) => e.id));
  return (graph.reroutes ?? [])
    .map((r) => ({ ...r, targets: r.targets.filter(([t, i]) => ids.has(edgeId(r.source, r.output, t, i))) }))
    .filter((r) => r.targets.length > 0);
}
