// Where a new node goes: the wanted spot when it is free, else the nearest free spot around it, so that nodes
// added from the palette, the search or the canvas menu never land on top of existing ones.
import type { NodeSchema } from "../api/schemas";
import type { EditorGraph, Position } from "./graph-model";

export interface Size {
  width: number;
  height: number;
}

interface Rect extends Size {
  x: number;
  y: number;
}

const DEFAULT_SIZE: Size = { width: 240, height: 120 };
/** Space kept between the new node and its neighbours. */
export const PLACEMENT_GAP = 20;
const STEP = 40;
const MAX_RINGS = 40;

/** A node's size before React Flow measures it: a header plus one row per output and input. */
export function estimateNodeSize(schema: NodeSchema | undefined): Size {
  if (!schema) return DEFAULT_SIZE;
  return { width: DEFAULT_SIZE.width, height: 40 + 26 * (schema.outputs.length + schema.inputs.length) };
}

function overlaps(a: Rect, b: Rect, gap: number): boolean {
  return (
    a.x < b.x + b.width + gap && b.x < a.x + a.width + gap && a.y < b.y + b.height + gap && b.y < a.y + a.height + gap
  );
}

/** Rectangles of the graph's nodes, measured where React Flow measured them. */
export function nodeRects(graph: EditorGraph, measured: Readonly<Record<string, Size | undefined>>): Rect[] {
  return Object.values(graph.nodes).map((n) => {
    const size = measured[n.id] ?? { width: n.width ?? DEFAULT_SIZE.width, height: n.height ?? DEFAULT_SIZE.height };
    return { x: n.position.x, y: n.position.y, width: size.width, height: size.height };
  });
}

/**
 * The top-left corner for a node of `size` nearest to `want` where it overlaps no node of `taken` (keeping
 * PLACEMENT_GAP): `want` itself when free, else the closest free point on rings of growing radius around it.
 */
export function freeSpot(taken: readonly Rect[], want: Position, size: Size = DEFAULT_SIZE): Position {
  const fits = (p: Position) => !taken.some((r) => overlaps({ ...p, ...size }, r, PLACEMENT_GAP));
  const start = { x: Math.round(want.x), y: Math.round(want.y) };
  if (fits(start)) return start;
  for (let ring = 1; ring <= MAX_RINGS; ring += 1) {
    const candidates: Position[] = [];
    for (let i = -ring; i <= ring; i += 1) {
      candidates.push(
        { x: start.x + i * STEP, y: start.y - ring * STEP },
        { x: start.x + i * STEP, y: start.y + ring * STEP },
      );
      if (i !== -ring && i !== ring) {
        candidates.push(
          { x: start.x - ring * STEP, y: start.y + i * STEP },
          { x: start.x + ring * STEP, y: start.y + i * STEP },
        );
      }
    }
    candidates.sort((a, b) => Math.hypot(a.x - start.x, a.y - start.y) - Math.hypot(b.x - start.x, b.y - start.y));
    const free = candidates.find(fits);
    if (free) return free;
  }
  // Crowded all around: below everything.
  const bottom = Math.max(...taken.map((r) => r.y + r.height));
  return { x: start.x, y: bottom + PLACEMENT_GAP };
}
