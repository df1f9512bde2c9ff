// Whether the server can serve: a 503 (database or broker down) or a failed fetch marks it unavailable, and
// /api/health is polled until it answers 200 again; the banner (server-banner.tsx) reads this store.
import { useSyncExternalStore } from "react";

export const HEALTH_POLL_MS = 3000;

type Listener = () => void;
let unavailable = false;
let timer: ReturnType<typeof setTimeout> | null = null;
const listeners = new Set<Listener>();
let probe: () => Promise<boolean> = async () => {
  try {
    const response = await fetch("/api/health", { credentials: "same-origin", cache: "no-store" });
    return response.ok;
  } catch {
    return false;
  }
};

function notify(): void {
  for (const listener of listeners) listener();
}

function schedule(delay: number): void {
  if (timer !== null) return;
  timer = setTimeout(() => {
    timer = null;
    void probe().then((ok) => {
      if (ok) {
        unavailable = false;
        notify();
      } else {
        schedule(HEALTH_POLL_MS);
      }
    });
  }, delay);
}

/** Called by the API client on a 503 or a network failure: show the banner and start polling /api/health. */
export function reportServerUnavailable(): void {
  if (!unavailable) {
    unavailable = true;
    notify();
  }
  schedule(HEALTH_POLL_MS);
}

export function isServerUnavailable(): boolean {
  return unavailable;
}

export function subscribeServerStatus(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** True while the server is unavailable (re-renders when that changes). */
export function useServerUnavailable(): boolean {
  return useSyncExternalStore(subscribeServerStatus, isServerUnavailable, isServerUnavailable);
}

/** Tests swap the health probe and reset the state. */
export function setHealthProbe(next: () => Promise<boolean>): void {
  probe = next;
}

export function resetServerStatus(): void {
  if (timer !== null) clearTimeout(timer);
  timer = null;
  unavailable = false;
  notify();
}
