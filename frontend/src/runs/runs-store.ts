// Live runs shared by every view (editor overlay, queue panel, run pages): one LiveRun per run id, ref-counted,
// and the workspace feed (ws/events/) with run statuses, queue positions and finished-run notifications.
import { useCallback, useEffect, useSyncExternalStore } from "react";
import { createStore } from "zustand/vanilla";
import { useStore } from "zustand";
import { instanceStatus } from "../editor/subgraphs";
import { LiveRun, type LiveRunSnapshot } from "./live-run";
import type { NodeState } from "./run-state";
import { ReconnectingSocket, wsUrl, type ConnectionState } from "./reconnecting-socket";
import { FINISHED, workspaceEventSchema, type RunStatusMessage, type WorkspaceEvent } from "./run-schemas";
import { runsApi } from "./runs-api";

// ---- live runs ----

const live = new Map<string, { run: LiveRun; refs: number; closeTimer: ReturnType<typeof setTimeout> | null }>();
const EMPTY: LiveRunSnapshot = { state: null, detail: null, connection: "idle", error: null };

function acquire(id: string): LiveRun {
  let entry = live.get(id);
  if (!entry) {
    const run = new LiveRun(id, { get: (i) => runsApi.get(i), events: (i, after) => runsApi.events(i, after) });
    entry = { run, refs: 0, closeTimer: null };
    live.set(id, entry);
    void run.start();
  }
  if (entry.closeTimer) clearTimeout(entry.closeTimer);
  entry.closeTimer = null;
  entry.refs += 1;
  return entry.run;
}

function release(id: string): void {
  const entry = live.get(id);
  if (!entry) return;
  entry.refs -= 1;
  if (entry.refs > 0) return;
  // Kept a moment so that switching views does not reconnect.
  entry.closeTimer = setTimeout(() => {
    entry.run.close();
    live.delete(id);
  }, 5000);
}

/** Reload a followed run's detail (after a cancel, say). */
export function refreshRun(id: string): void {
  void live.get(id)?.run.start();
}

/** Follow a run while the component is mounted; null id follows nothing. */
export function useLiveRun(id: string | null): LiveRunSnapshot {
  const subscribe = useCallback(
    (cb: () => void) => {
      if (!id) return () => undefined;
      const unsubscribe = acquire(id).subscribe(cb);
      cb(); // the snapshot may have changed between render and subscription
      return () => {
        unsubscribe();
        release(id);
      };
    },
    [id],
  );
  return useSyncExternalStore(subscribe, () => (id ? (live.get(id)?.run.getSnapshot() ?? EMPTY) : EMPTY));
}

// ---- the workspace feed ----

export interface RunNotification {
  id: number;
  run: RunStatusMessage["run"];
}

interface FeedState {
  connection: ConnectionState | "idle";
  /** Latest status per run id (this session). */
  statuses: Record<string, RunStatusMessage["run"]>;
  /** Queue positions per workspace, as last announced. */
  queues: Record<number, { id: string; position: number }[]>;
  notifications: RunNotification[];
  /** Bumped on every status change, so lists can refetch. */
  version: number;
}

export const feedStore = createStore<FeedState>()(() => ({
  connection: "idle",
  statuses: {},
  queues: {},
  notifications: [],
  version: 0,
}));
let feedSocket: ReconnectingSocket<typeof workspaceEventSchema> | null = null;
let feedRefs = 0;
let feedUser: number | null = null;
let notificationCounter = 0;

function startFeed(): void {
  feedSocket = new ReconnectingSocket({
    url: () => wsUrl("/ws/events/"),
    schema: workspaceEventSchema,
    onState: (connection) => feedStore.setState({ connection }),
    onInvalid: (raw, error) => console.warn("Workspace event in an unexpected shape, ignored:", error, raw),
    onMessage: receiveWorkspaceEvent,
  });
}

/** One ws/events/ message: queue positions, a resync, or a run's new status (and maybe a finished-run notice). */
export function receiveWorkspaceEvent(message: WorkspaceEvent): void {
  if (message.type === "run.queue") {
    feedStore.setState((s) => ({ queues: { ...s.queues, [message.workspace]: message.runs } }));
    return;
  }
  if (message.type === "resync") {
    // Events were dropped for this socket (the server closes it next; it reconnects): lists refetch, and
    // queue positions are forgotten until announced again.
    feedStore.setState((s) => ({ queues: {}, version: s.version + 1 }));
    return;
  }
  const run = message.run;
  const before = feedStore.getState().statuses[run.id];
  const notify = FINISHED.has(run.status) && before?.status !== run.status && run.created_by === feedUser;
  feedStore.setState((s) => ({ statuses: { ...s.statuses, [run.id]: run }, version: s.version + 1 }));
  const followed = live.get(run.id)?.run;
  followed?.noteStatus(run.status);
  if (!notify) return;
  const add = () =>
    feedStore.setState((s) => ({
      notifications: [...s.notifications.slice(-4), { id: ++notificationCounter, run }],
    }));
  // A run shown somewhere (the editor's canvas, a run page) ends there first: its notice waits for that view's
  // final state, which noteStatus just asked for, so the toast never says "succeeded" over nodes still running.
  if (followed) void followed.whenFinished().then(add);
  else add();
}

/** Tests: whose finished runs notify. */
export function setFeedUser(userId: number | null): void {
  feedUser = userId;
}

/** The live snapshot of a run some view follows, or null. */
export function liveRunSnapshot(id: string): LiveRunSnapshot | null {
  return live.get(id)?.run.getSnapshot() ?? null;
}

/** Follow a run (as a mounted view does) until the returned release is called. */
export function followRun(id: string): () => void {
  acquire(id);
  return () => release(id);
}

/** Keep ws/events/ open while mounted (signed-in views only). `userId` decides which finished runs notify. */
export function useWorkspaceFeed(userId: number | null): void {
  useEffect(() => {
    if (userId === null) return;
    feedUser = userId;
    feedRefs += 1;
    if (!feedSocket || feedSocket.isStopped) startFeed();
    return () => {
      feedRefs -= 1;
      if (feedRefs === 0) {
        feedSocket?.stop();
        feedSocket = null;
      }
    };
  }, [userId]);
}

export function useFeed<T>(selector: (s: FeedState) => T): T {
  return useStore(feedStore, selector);
}

export function dismissNotification(id: number): void {
  feedStore.setState((s) => ({ notifications: s.notifications.filter((n) => n.id !== id) }));
}

/** A run's queue position from the feed (null: not waiting, or unknown). */
export function queuePosition(s: FeedState, runId: string): number | null {
  for (const runs of Object.values(s.queues)) {
    const hit = runs.find((r) => r.id === runId);
    if (hit) return hit.position;
  }
  return null;
}

/** One node's state in a followed run (re-renders only when that node changes). */
export function useRunNode(runId: string | null, nodeId: string): NodeState | null {
  const subscribe = useCallback(
    (cb: () => void) => {
      if (!runId) return () => undefined;
      const unsubscribe = acquire(runId).subscribe(cb);
      return () => {
        unsubscribe();
        release(runId);
      };
    },
    [runId],
  );
  return useSyncExternalStore(subscribe, () =>
    runId ? (live.get(runId)?.run.getSnapshot().state?.nodes[nodeId] ?? null) : null,
  );
}

/** The run state a subgraph instance shows, from its inner nodes ("12:34"); null when it has none. */
export function useRunInstanceStatus(runId: string | null, nodeId: string): string | null {
  const subscribe = useCallback(
    (cb: () => void) => {
      if (!runId) return () => undefined;
      const unsubscribe = acquire(runId).subscribe(cb);
      return () => {
        unsubscribe();
        release(runId);
      };
    },
    [runId],
  );
  return useSyncExternalStore(subscribe, () => {
    const nodes = runId ? live.get(runId)?.run.getSnapshot().state?.nodes : undefined;
    return nodes ? instanceStatus(nodes, nodeId) : null;
  });
}
