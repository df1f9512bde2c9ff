// What the Run button posts. Decision (see README.md): when the editor shows a saved workflow whose structure
// (nodes, types, links, outputs) matches the saved version, post `{workflow, version, overrides}` with only the
// constants that changed since (seeds after a run, edited widgets), so the run belongs to the workflow and
// shows in its history and gallery; otherwise post the exported graph as `{workspace, graph}`.
import type { GraphJson } from "../api/schemas";
import type { Catalog, EditorGraph } from "../editor/graph-model";
import { exportGraphForRun, looksLikeLink, toDocument } from "../editor/serialization";
import type { RunRequest } from "./runs-api";

export interface RunTarget {
  workflow: { id: number; workspace: number } | null;
  /** The saved version `savedGraph` is (null: never saved). */
  version: number | null;
  /** Where raw graphs run when there is no workflow (the user's personal workspace). */
  fallbackWorkspace: number;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Overrides turning `saved` into `current`, or null when the difference is not just constants. */
export function constantOverrides(
  saved: GraphJson,
  current: GraphJson,
): Record<string, Record<string, unknown>> | null {
  const ids = Object.keys(current.nodes);
  if (ids.length !== Object.keys(saved.nodes).length) return null;
  if (!same(saved.outputs ?? null, current.outputs ?? null)) return null;
  if (!same(saved.subgraphs ?? null, current.subgraphs ?? null)) return null; // a changed definition runs as a graph
  const overrides: Record<string, Record<string, unknown>> = {};
  for (const id of ids) {
    const a = saved.nodes[id];
    const b = current.nodes[id]!;
    if (!a || a.type !== b.type) return null;
    for (const name of new Set([...Object.keys(a.inputs), ...Object.keys(b.inputs)])) {
      const before = a.inputs[name];
      const after = b.inputs[name];
      if (same(before, after)) continue;
      if (after === undefined || looksLikeLink(before) || looksLikeLink(after)) return null;
      (overrides[id] ??= {})[name] = after;
    }
  }
  return overrides;
}

export function buildRunRequest(
  current: EditorGraph,
  saved: EditorGraph,
  catalog: Catalog,
  target: RunTarget,
): RunRequest {
  const graph = exportGraphForRun(current, catalog);
  if (target.workflow && target.version !== null) {
    const overrides = constantOverrides(toDocument(saved, catalog).graph, graph);
    if (overrides) {
      return Object.keys(overrides).length
        ? { workflow: target.workflow.id, version: target.version, overrides }
        : { workflow: target.workflow.id, version: target.version };
    }
  }
  return { workspace: target.workflow?.workspace ?? target.fallbackWorkspace, graph };
}
