// Layout math of the per-run timeline (an SVG Gantt): which node ran when, for how long, cached or not.
import type { NodeRunStatus, RunState } from "./run-state";

export interface TimelineInput {
  id: string;
  label: string;
  status: NodeRunStatus;
  /** Epoch ms; null when the node never started. */
  started: number | null;
  finished: number | null;
}

export interface TimelineBar {
  id: string;
  label: string;
  status: NodeRunStatus;
  row: number;
  /** Pixels from the left of the plot area. */
  x: number;
  width: number;
  /** Seconds, as drawn (finished − started, or until `now` while running). */
  seconds: number;
  /** Cached (or never started) nodes are a marker, not a bar. */
  marker: boolean;
}

export interface TimelineLayout {
  start: number;
  end: number;
  width: number;
  bars: TimelineBar[];
  ticks: { x: number; label: string }[];
}

export const MIN_BAR_PX = 2;

/** A "nice" tick step (1, 2, 5 × 10ⁿ seconds) giving at most `maxTicks` ticks over `span` seconds. */
export function tickStep(spanSeconds: number, maxTicks = 8): number {
  if (!(spanSeconds > 0)) return 1;
  const rough = spanSeconds / maxTicks;
  const power = 10 ** Math.floor(Math.log10(rough));
  for (const m of [1, 2, 5, 10]) if (m * power >= rough) return m * power;
  return 10 * power;
}

export function formatSeconds(s: number): string {
  if (s > 0 && s < 0.001) return "<1 ms";
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

/**
 * Place one row per node on a time axis `width` pixels wide. The axis starts at `runStart` (or the earliest
 * node) and ends at the latest finish (or `now` while something runs).
 */
export function layoutTimeline(
  nodes: readonly TimelineInput[],
  opts: { width: number; runStart?: number | null; runEnd?: number | null; now?: number },
): TimelineLayout {
  const now = opts.now ?? Date.now();
  const starts = nodes.flatMap((n) => (n.started !== null ? [n.started] : n.finished !== null ? [n.finished] : []));
  const ends = nodes.flatMap((n) => {
    if (n.finished !== null) return [n.finished];
    if (n.status === "running" && n.started !== null) return [now];
    return [];
  });
  const start = opts.runStart ?? (starts.length ? Math.min(...starts) : now);
  let end = Math.max(start, opts.runEnd ?? (ends.length ? Math.max(...ends) : start), ...ends);
  if (end - start < 1) end = start + 1; // at least 1 ms, so the scale is finite
  const scale = opts.width / (end - start);
  const bars = nodes.map((n, row): TimelineBar => {
    const s = n.started ?? n.finished ?? start;
    const f = n.finished ?? (n.status === "running" ? now : s);
    const marker = n.status === "cached" || n.started === null;
    const x = Math.max(0, Math.min(opts.width, (s - start) * scale));
    const width = marker ? 0 : Math.min(opts.width - x, Math.max(MIN_BAR_PX, (f - s) * scale));
    return { id: n.id, label: n.label, status: n.status, row, x, width, seconds: Math.max(0, (f - s) / 1000), marker };
  });
  const spanS = (end - start) / 1000;
  const step = tickStep(spanS);
  const ticks: TimelineLayout["ticks"] = [];
  for (let t = 0; t <= spanS + 1e-9 && ticks.length < 50; t += step) {
    ticks.push({ x: t * 1000 * scale, label: formatSeconds(t) });
  }
  return { start, end, width: opts.width, bars, ticks };
}

/** Timeline rows of a run state, in plan order, labelled with `label(id, type)`. */
export function timelineInputs(
  state: RunState,
  label: (id: string, type: string) => string = (id, type) => `#${id} ${type}`,
): TimelineInput[] {
  return state.order.flatMap((id) => {
    const n = state.nodes[id];
    return n ? [{ id, label: label(id, n.type), status: n.status, started: n.started, finished: n.finished }] : [];
  });
}
