// How the workers page words things: sizes, heartbeat ages, status, model names.
import type { Worker } from "./worker-schemas";

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes == null) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value >= 10 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

/** "4 s ago", "3 min ago", "2 h ago", "5 d ago"; "never" without a heartbeat. */
export function heartbeatAge(iso: string | null | undefined, now: number): string {
  if (!iso) return "never";
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

export type WorkerTone = "ok" | "wait" | "warn" | "error" | "muted";

/** One label for a worker: busy/idle while online, else its status; `lost` is an alarm, `stopped` is calm. */
export function workerState(w: Pick<Worker, "status" | "alive" | "busy">): {
  label: string;
  tone: WorkerTone;
  hint: string;
} {
  if (w.status === "online") {
    if (!w.alive)
      return {
        label: "silent",
        tone: "warn",
        hint: "Online, but its heartbeat is late: the sweep marks it lost if it stays silent.",
      };
    return w.busy
      ? { label: "busy", tone: "wait", hint: "Executing runs." }
      : { label: "idle", tone: "ok", hint: "Online and waiting for work." };
  }
  if (w.status === "lost")
    return { label: "lost", tone: "error", hint: "Stopped sending heartbeats; its runs went back to the queue." };
  if (w.status === "stopped") return { label: "stopped", tone: "muted", hint: "Shut down cleanly." };
  return { label: w.status, tone: "muted", hint: "" };
}

/** Warm or available model entries are strings or `{model_id, revision, ...}`: a readable name either way. */
export function modelLabel(entry: unknown): string {
  if (typeof entry === "string") return entry;
  if (entry && typeof entry === "object") {
    const e = entry as { model_id?: unknown; id?: unknown; revision?: unknown };
    const id = typeof e.model_id === "string" ? e.model_id : typeof e.id === "string" ? e.id : null;
    if (id) return typeof e.revision === "string" && e.revision ? `${id}@${e.revision}` : id;
  }
  return JSON.stringify(entry);
}

/** Online first (busy, idle), then lost, then stopped; by name within a group. */
export function sortWorkers<W extends Pick<Worker, "name" | "status" | "busy">>(workers: readonly W[]): W[] {
  const rank = (w: W) => (w.status === "online" ? (w.busy ? 0 : 1) : w.status === "lost" ? 2 : 3);
  return [...workers].sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
}
