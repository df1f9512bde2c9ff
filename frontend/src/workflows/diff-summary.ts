// A version diff (GET /api/workflows/<id>/diff) as short sentences a person reads at a glance.
import type { WorkflowDocument } from "../api/schemas";
import type { WorkflowDiff } from "../api/workflow-extras-api";

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** A node's name in a diff: its title when known (with its id when another node shares it), else `#id`. */
export type NodeNamer = (id: string) => string;

const byId: NodeNamer = (id) => `#${id}`;

/**
 * Names of the nodes of some versions' documents: the title set in the editor, else the node type's display name
 * (`displayName`, from the catalog), else the type; a name two nodes share gets their ids. Later documents win.
 */
export function nodeNamer(
  docs: readonly (WorkflowDocument | null | undefined)[],
  displayName: (type: string) => string | undefined,
): NodeNamer {
  const names = new Map<string, string>();
  for (const doc of docs) {
    if (!doc) continue;
    for (const [id, node] of Object.entries(doc.graph.nodes)) {
      names.set(id, doc.layout?.nodes[id]?.title || displayName(node.type) || node.type);
    }
  }
  const counts = new Map<string, number>();
  for (const name of names.values()) counts.set(name, (counts.get(name) ?? 0) + 1);
  return (id) => {
    const name = names.get(id);
    if (!name) return `#${id}`;
    return (counts.get(name) ?? 0) > 1 ? `${name} #${id}` : name;
  };
}

function listed(list: readonly string[], name: NodeNamer, max = 4): string {
  const shown = list.slice(0, max).map(name);
  return list.length > max ? `${shown.join(", ")} and ${list.length - max} more` : shown.join(", ");
}

/** One line per kind of change, or "No node changes" (layout-only versions); nodes named by `name`. */
export function diffSummary(diff: WorkflowDiff, name: NodeNamer = byId): string[] {
  const lines: string[] = [];
  if (diff.added.length) lines.push(`Added ${plural(diff.added.length, "node")}: ${listed(diff.added, name)}`);
  if (diff.removed.length) lines.push(`Removed ${plural(diff.removed.length, "node")}: ${listed(diff.removed, name)}`);
  if (diff.changed.length) {
    const parts = diff.changed.slice(0, 4).map((c) => `${name(c.node)} (${c.inputs.join(", ")})`);
    const more = diff.changed.length > 4 ? ` and ${diff.changed.length - 4} more` : "";
    lines.push(`Changed inputs of ${plural(diff.changed.length, "node")}: ${parts.join(", ")}${more}`);
  }
  if (diff.type_changed.length) {
    const changedIds = diff.type_changed.flatMap((t) =>
      t && typeof t === "object" && "node" in t ? [String(t.node)] : [],
    );
    lines.push(
      `Changed the type of ${plural(diff.type_changed.length, "node")}${changedIds.length ? `: ${listed(changedIds, name)}` : ""}`,
    );
  }
  return lines.length ? lines : ["No node changes (layout only)"];
}

/** "3 minutes ago" style time for lists; absolute beyond a week. */
export function relativeTime(iso: string, now: number = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.round((now - t) / 1000);
  if (s < 45) return "just now";
  const m = Math.round(s / 60);
  if (m < 60) return `${plural(m, "minute")} ago`;
  const h = Math.round(m / 60);
  if (h < 24) return `${plural(h, "hour")} ago`;
  const d = Math.round(h / 24);
  if (d < 7) return `${plural(d, "day")} ago`;
  return new Date(t).toLocaleDateString();
}

/** What a run ran, for lists: the workflow's name and version, or an unsaved graph. */
export function runSubject(
  run: { workflow: number | null; workflow_version?: number | null | undefined },
  names: ReadonlyMap<number, string>,
): string {
  if (run.workflow === null) return "an unsaved graph";
  const name = names.get(run.workflow) ?? `workflow #${run.workflow}`;
  return run.workflow_version != null ? `${name} v${run.workflow_version}` : name;
}
