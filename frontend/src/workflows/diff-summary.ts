// A version diff (GET /api/workflows/<id>/diff) as short sentences a person reads at a glance.
import type { WorkflowDiff } from "../api/workflow-extras-api";

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function ids(list: readonly string[], max = 4): string {
  const shown = list.slice(0, max).map((id) => `#${id}`);
  return list.length > max ? `${shown.join(", ")} and ${list.length - max} more` : shown.join(", ");
}

/** One line per kind of change, or "No node changes" (layout-only versions). */
export function diffSummary(diff: WorkflowDiff): string[] {
  const lines: string[] = [];
  if (diff.added.length) lines.push(`Added ${plural(diff.added.length, "node")}: ${ids(diff.added)}`);
  if (diff.removed.length) lines.push(`Removed ${plural(diff.removed.length, "node")}: ${ids(diff.removed)}`);
  if (diff.changed.length) {
    const parts = diff.changed.slice(0, 4).map((c) => `#${c.node} (${c.inputs.join(", ")})`);
    const more = diff.changed.length > 4 ? ` and ${diff.changed.length - 4} more` : "";
    lines.push(`Changed inputs of ${plural(diff.changed.length, "node")}: ${parts.join(", ")}${more}`);
  }
  if (diff.type_changed.length) lines.push(`Changed the type of ${plural(diff.type_changed.length, "node")}`);
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
