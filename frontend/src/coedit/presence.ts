// What each person in a co-edited workflow shows the others (their awareness state), and how it is read.
// The server writes the real `user.id` and `user.name` over whatever a client claims (backend/coedit/rooms.py).
import type { Awareness } from "y-protocols/awareness";

export interface Presence {
  user: { id: number; name: string; color: string };
  /** The pointer on the canvas, in flow coordinates; null when it left the canvas. */
  cursor?: { x: number; y: number } | null;
  /** Ids of the selected nodes. */
  selection?: string[];
  /** The node being dragged, if any. */
  dragging?: string | null;
}

export interface Peer extends Presence {
  clientId: number;
}

const PALETTE = ["#e8590c", "#1c7ed6", "#2f9e44", "#ae3ec9", "#f08c00", "#0c8599", "#e03131", "#5f3dc4"];

/** A colour per user, the same on every screen. */
export function colorFor(userId: number): string {
  return PALETTE[Math.abs(userId) % PALETTE.length] ?? PALETTE[0]!;
}

export function initials(name: string): string {
  const parts = name.split(/[\s._-]+/).filter(Boolean);
  return ((parts[0]?.[0] ?? "?") + (parts[1]?.[0] ?? "")).toUpperCase();
}

function isPresence(state: unknown): state is Presence {
  const user = (state as { user?: { id?: unknown; name?: unknown } } | null)?.user;
  return typeof user?.id === "number" && typeof user.name === "string";
}

/** Everyone else present (one entry per browser tab), by name. */
export function peersOf(awareness: Awareness): Peer[] {
  const peers: Peer[] = [];
  for (const [clientId, state] of awareness.getStates()) {
    if (clientId === awareness.clientID || !isPresence(state)) continue;
    peers.push({ ...state, clientId, user: { ...state.user, color: state.user.color || colorFor(state.user.id) } });
  }
  return peers.sort((a, b) => a.user.name.localeCompare(b.user.name) || a.clientId - b.clientId);
}

/** Set this tab's presence fields (merged into what it showed). */
export function showPresence(awareness: Awareness, fields: Partial<Presence>): void {
  const current = (awareness.getLocalState() ?? {}) as Partial<Presence>;
  awareness.setLocalState({ ...current, ...fields });
}
