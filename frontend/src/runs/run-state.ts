// The run-state reducer: a run detail (GET /api/runs/<id>) plus its events (replayed and live) → per-node state.
// Pure functions only; the browser never decides anything about execution, it mirrors the server's log.
import {
  FINISHED,
  type AnyRunEvent,
  type NodeStatus,
  type OutputSummary,
  type RunDetail,
  type RunResult,
  type RunStatus,
} from "./run-schemas";

/** `pending`: known from the graph but the run has not planned it yet. */
export type NodeRunStatus = NodeStatus | "pending";

export interface NodeState {
  id: string;
  type: string;
  status: NodeRunStatus;
  /** Epoch milliseconds. */
  started: number | null;
  finished: number | null;
  /** Seconds the node executed (as the server measured). */
  duration: number | null;
  progress: { value: number; max: number } | null;
  /** The last live preview image (progress events), until the node finishes. */
  preview: RunResult | null;
  error: string;
  errorType: string;
  traceback: string;
  outputs: OutputSummary[];
  results: RunResult[];
  /** The node failed and is being tried again (`node_retry`): which attempt comes next, after what error. */
  retry: { attempt: number; attempts: number; error: string; outOfMemory: boolean } | null;
}

/** The run went back to the queue because its worker was lost (`run_requeued`); it resumes from the cache. */
export interface Requeue {
  attempt: number;
  maxAttempts: number | null;
  reason: string;
  previousWorker: string | null;
  /** The worker that took it over at once, if one did. */
  worker: string | null;
}

export interface RunState {
  runId: string;
  status: RunStatus;
  /** The last event applied: the next one must be lastSeq + 1. */
  lastSeq: number;
  /** Node ids in plan order. */
  order: string[];
  nodes: Record<string, NodeState>;
  started: number | null;
  finished: number | null;
  error: string;
  summary: { executed: number; cached: number; failed: string[]; duration: number | null } | null;
  /** The last time the run was put back in the queue after losing its worker, if it was. */
  requeued: Requeue | null;
  /** Events that arrived ahead of a gap, waiting for the missing ones (keyed by seq). */
  pending: Record<number, AnyRunEvent>;
}

export function toMillis(iso: string | null | undefined): number | null {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
}

/** A node's state before any event about it arrived. */
export function blankNode(id: string, type = ""): NodeState {
  return {
    id,
    type,
    status: "pending",
    started: null,
    finished: null,
    duration: null,
    progress: null,
    preview: null,
    error: "",
    errorType: "",
    traceback: "",
    outputs: [],
    results: [],
    retry: null,
  };
}

export function emptyRunState(runId: string, status: RunStatus = "queued"): RunState {
  return {
    runId,
    status,
    lastSeq: 0,
    order: [],
    nodes: {},
    started: null,
    finished: null,
    error: "",
    summary: null,
    requeued: null,
    pending: {},
  };
}

/** The state a run detail describes, as of its `last_seq`. */
export function stateFromDetail(detail: RunDetail): RunState {
  const nodes: Record<string, NodeState> = {};
  const order: string[] = [];
  for (const n of detail.nodes) {
    order.push(n.node_id);
    nodes[n.node_id] = {
      ...blankNode(n.node_id, n.type),
      status: n.status,
      started: toMillis(n.started),
      finished: toMillis(n.finished),
      duration: n.duration,
      progress: n.status === "running" ? n.progress : null,
      error: n.error,
      errorType: n.error_type,
      traceback: n.traceback ?? "",
      outputs: n.outputs,
    };
  }
  for (const r of detail.results) {
    const node = nodes[r.node_id] ?? (nodes[r.node_id] = blankNode(r.node_id));
    node.results = [...node.results, r];
  }
  return {
    runId: detail.id,
    status: detail.status,
    lastSeq: detail.last_seq,
    order,
    nodes,
    started: toMillis(detail.started),
    finished: toMillis(detail.finished),
    error: detail.error,
    summary: null,
    requeued: null,
    pending: {},
  };
}

function patchNode(state: RunState, id: string, patch: (n: NodeState) => NodeState): RunState {
  const current = state.nodes[id] ?? blankNode(id);
  const order = state.order.includes(id) ? state.order : [...state.order, id];
  return { ...state, order, nodes: { ...state.nodes, [id]: patch(current) } };
}

function patchMany(state: RunState, ids: readonly string[], patch: (n: NodeState) => NodeState): RunState {
  return ids.reduce((s, id) => patchNode(s, id, patch), state);
}

/** Apply one event, in order, without the seq bookkeeping (see applyEvents). */
export function reduceEvent(state: RunState, event: AnyRunEvent): RunState {
  const at = event.time * 1000;
  switch (event.type) {
    case "run_started": {
      // Nodes the run does not plan are not needed (a node downstream of them is cached): the server lists them
      // as cached.
      const planned = new Set(event.data.nodes);
      let s = state;
      for (const id of state.order) {
        const n = state.nodes[id];
        if (n && !planned.has(id) && (n.status === "queued" || n.status === "pending"))
          s = patchNode(s, id, (x) => ({ ...x, status: "cached" }));
      }
      s = patchMany(s, event.data.nodes, (n) => (n.status === "pending" ? { ...n, status: "queued" } : n));
      return { ...s, status: s.status === "queued" ? "running" : s.status, started: s.started ?? at };
    }
    case "nodes_cached":
      return patchMany(state, event.data.nodes, (n) => ({
        ...n,
        status: "cached",
        progress: null,
        finished: n.finished ?? at,
      }));
    case "node_started":
      return patchNode(state, event.node, (n) => ({
        ...n,
        type: event.data.type,
        status: "running",
        started: at,
        progress: null,
      }));
    case "node_retry":
      // The attempt failed and the node runs again (after `delay` seconds): still running, the error shown.
      return patchNode(state, event.node, (n) => ({
        ...n,
        type: event.data.type,
        status: "running",
        progress: null,
        preview: null,
        retry: {
          attempt: event.data.attempt,
          attempts: event.data.attempts,
          error: event.data.error,
          outOfMemory: event.data.reason === "out_of_memory",
        },
      }));
    case "run_requeued": {
      // The worker was lost: what it was executing starts again elsewhere (finished nodes come from the cache).
      let s = state;
      for (const id of state.order) {
        if (state.nodes[id]?.status === "running") {
          s = patchNode(s, id, (n) => ({ ...n, status: "queued", progress: null, preview: null, retry: null }));
        }
      }
      const requeued: Requeue = {
        attempt: event.data.attempt,
        maxAttempts: event.data.max_attempts ?? null,
        reason: event.data.reason,
        previousWorker: event.data.previous_worker ?? null,
        worker: event.data.worker ?? null,
      };
      return { ...s, status: requeued.worker ? s.status : "queued", requeued };
    }
    case "progress":
      return patchNode(state, event.node, (n) => ({
        ...n,
        status: n.status === "pending" || n.status === "queued" ? "running" : n.status,
        progress: { value: event.data.value, max: event.data.max },
        preview: event.data.preview ?? n.preview,
      }));
    case "node_finished":
      return patchNode(state, event.node, (n) => ({
        ...n,
        type: event.data.type,
        status: event.data.cached ? "cached" : "succeeded",
        finished: at,
        duration: event.data.duration ?? null,
        progress: null,
        preview: null,
        outputs: event.data.outputs,
        retry: null,
        // Results replace, never append: a replay of an already applied node yields the same list.
        results: event.data.results.length ? event.data.results : n.results,
      }));
    case "node_failed":
      return patchNode(state, event.node, (n) => ({
        ...n,
        type: event.data.type,
        status: "failed",
        finished: at,
        duration: event.data.duration ?? null,
        progress: null,
        preview: null,
        error: event.data.error,
        errorType: event.data.error_type ?? "",
        traceback: event.data.traceback ?? "",
        retry: null,
      }));
    case "nodes_skipped": {
      const status: NodeRunStatus = event.data.reason === "cancelled" ? "cancelled" : "skipped";
      return patchMany(state, event.data.nodes, (n) => ({ ...n, status, progress: null, preview: null }));
    }
    case "node_paused":
      return patchNode(state, event.node, (n) => ({
        ...n,
        type: event.data.type,
        status: "awaiting",
        progress: null,
        preview: null,
        results: event.data.results.length ? event.data.results : n.results,
      }));
    case "run_paused":
      return { ...state, status: "awaiting_approval" };
    case "approval_decided": {
      // Approved by everyone: the run goes back to the queue and the step runs again (rejected: run_finished).
      if (event.data.run_status !== "queued") return state;
      const s = patchNode(state, event.node, (n) => ({ ...n, status: n.status === "awaiting" ? "queued" : n.status }));
      return { ...s, status: "queued" };
    }
    case "run_finished": {
      const failed = new Set(event.data.failed);
      // Nodes still open when the run ends: not needed (succeeded), stopped (cancelled) or not reached (failed).
      const closed: NodeRunStatus =
        event.data.status === "succeeded" ? "cached" : event.data.status === "cancelled" ? "cancelled" : "skipped";
      const nodes: Record<string, NodeState> = {};
      for (const [id, n] of Object.entries(state.nodes)) {
        const open = n.status === "running" || n.status === "queued" || n.status === "pending";
        nodes[id] = open && !failed.has(id) ? { ...n, status: closed, progress: null, preview: null } : n;
        if (n.status === "awaiting") nodes[id] = { ...n, status: failed.has(id) ? "failed" : closed }; // rejected
      }
      return {
        ...state,
        nodes,
        status: event.data.status,
        finished: at,
        summary: {
          executed: event.data.executed,
          cached: event.data.cached,
          failed: event.data.failed,
          duration: event.data.duration ?? null,
        },
      };
    }
    case "unknown":
      return state;
  }
}

export interface ApplyResult {
  state: RunState;
  /** Events are missing between lastSeq and the first pending one: replay `after=state.lastSeq` over HTTP. */
  gap: boolean;
}

/**
 * Merge events into the state exactly once and in order: duplicates (seq ≤ lastSeq) are dropped, events past a
 * gap wait in `pending` until the missing ones arrive (then everything contiguous is applied).
 */
export function applyEvents(state: RunState, events: readonly AnyRunEvent[]): ApplyResult {
  let pending = state.pending;
  let added = false;
  for (const e of events) {
    if (e.seq <= state.lastSeq || e.seq in pending) continue;
    if (!added) pending = { ...pending };
    pending[e.seq] = e;
    added = true;
  }
  if (!added) return { state, gap: Object.keys(pending).length > 0 };
  let next: RunState = { ...state, pending };
  while (next.lastSeq + 1 in pending) {
    const seq = next.lastSeq + 1;
    const event = pending[seq]!;
    delete pending[seq];
    next = { ...reduceEvent(next, event), lastSeq: seq, pending };
  }
  return { state: next, gap: Object.keys(pending).length > 0 };
}

/**
 * Fold a status change from ws/events/ (no event log) into the state. Only queued → running is taken from it:
 * a finished status must come with the run's own run_finished event (or its detail), or the last events of
 * the log would be cut off.
 */
export function applyStatus(state: RunState, status: RunStatus): RunState {
  if (state.status === "queued" && status === "running") return { ...state, status };
  return state;
}

export function isFinished(state: Pick<RunState, "status">): boolean {
  return FINISHED.has(state.status);
}

/** The images, videos and audio a run produced so far, saved ones first (for galleries). */
export function imagesOf(state: RunState): RunResult[] {
  const shown = new Set(["image", "video", "audio"]);
  const all = state.order.flatMap((id) => state.nodes[id]?.results ?? []).filter((r) => shown.has(r.kind) && r.url);
  return [...all.filter((r) => r.saved), ...all.filter((r) => !r.saved)];
}
