// One run followed live: GET the detail (the exact state as of its last_seq), then ws/runs/<id>/?after=<seq>
// &batch=1 for everything after it (each frame an array of events: one per published batch, not per event); reconnects resume from the last applied seq, duplicates are dropped and a gap is
// filled from GET /api/runs/<id>/events. Reloading the page or opening an old run therefore shows the real state.
import { errorMessage } from "../api/client";
import {
  ReconnectingSocket,
  wsUrl,
  type ConnectionState,
  type SocketFactory,
  type Timers,
} from "./reconnecting-socket";
import { eventFrameSchema, type AnyRunEvent, type EventPage, type RunDetail } from "./run-schemas";
import { applyEvents, applyStatus, isFinished, stateFromDetail, type RunState } from "./run-state";
import { FINISHED, type RunStatus } from "./run-schemas";

/** How long a finished-run notice waits for the run's final state at most. */
export const SETTLE_MS = 3000;

export interface LiveRunDeps {
  get(id: string): Promise<RunDetail>;
  events(id: string, after: number): Promise<EventPage>;
  factory?: SocketFactory;
  timers?: Timers;
  random?: () => number;
  url?: (path: string) => string;
}

export interface LiveRunSnapshot {
  state: RunState | null;
  detail: RunDetail | null;
  connection: ConnectionState | "idle";
  error: string | null;
}

export class LiveRun {
  readonly id: string;
  private snapshot: LiveRunSnapshot = { state: null, detail: null, connection: "idle", error: null };
  private listeners = new Set<() => void>();
  private socket: ReconnectingSocket<typeof eventFrameSchema> | null = null;
  private backlog: AnyRunEvent[] = [];
  private filling = false;
  private closed = false;
  private readonly deps: LiveRunDeps;

  constructor(id: string, deps: LiveRunDeps) {
    this.id = id;
    this.deps = deps;
  }

  getSnapshot = (): LiveRunSnapshot => this.snapshot;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  private set(patch: Partial<LiveRunSnapshot>): void {
    this.snapshot = { ...this.snapshot, ...patch };
    for (const l of [...this.listeners]) l();
  }

  /** Load the detail and follow the run until it finishes. Safe to call again (reloads). */
  async start(): Promise<void> {
    this.closed = false;
    let detail: RunDetail;
    try {
      detail = await this.deps.get(this.id);
    } catch (exc) {
      this.set({ error: errorMessage(exc) });
      return;
    }
    if (this.closed) return;
    let state = stateFromDetail(detail);
    // Events that arrived (from an earlier socket) while the detail loaded still apply on top of it.
    if (this.backlog.length) state = applyEvents(state, this.backlog).state;
    this.backlog = [];
    this.set({ detail, state, error: null });
    if (isFinished(state)) this.stopSocket();
    else this.openSocket();
  }

  private openSocket(): void {
    if (this.socket && !this.socket.isStopped) return;
    const url = this.deps.url ?? wsUrl;
    this.socket = new ReconnectingSocket({
      url: () => url(`/ws/runs/${this.id}/?after=${this.snapshot.state?.lastSeq ?? 0}&batch=1`),
      schema: eventFrameSchema,
      onMessage: (events) => this.receive(events),
      onState: (connection) => this.set({ connection }),
      onInvalid: (raw, error) => console.warn("Run event in an unexpected shape, ignored:", error, raw),
      onFinal: (code) => {
        if (code !== null)
          this.set({
            error:
              code === 4404
                ? "This run no longer exists or is not visible to you."
                : `Live updates stopped (code ${code}).`,
          });
      },
      ...(this.deps.factory ? { factory: this.deps.factory } : {}),
      ...(this.deps.timers ? { timers: this.deps.timers } : {}),
      ...(this.deps.random ? { random: this.deps.random } : {}),
    });
  }

  private stopSocket(): void {
    this.socket?.stop();
    this.socket = null;
  }

  /** Merge events (from the socket or a replay page). */
  receive(events: readonly AnyRunEvent[]): void {
    const current = this.snapshot.state;
    if (!current) {
      this.backlog.push(...events);
      return;
    }
    const { state, gap } = applyEvents(current, events);
    if (state !== current) this.set({ state });
    if (isFinished(state)) {
      this.stopSocket();
      if (!isFinished(current)) void this.reconcile();
    } else if (gap) void this.fillGap();
  }

  /** Once the run finished: take the server's final node rows and run fields (its detail is the truth). */
  private async reconcile(): Promise<void> {
    try {
      const detail = await this.deps.get(this.id);
      const state = this.snapshot.state;
      if (this.closed || !state || !FINISHED.has(detail.status) || detail.last_seq < state.lastSeq) return;
      this.set({ detail, state: { ...stateFromDetail(detail), summary: state.summary } });
    } catch {
      // The live state stands.
    }
  }

  private async fillGap(): Promise<void> {
    if (this.filling) return;
    this.filling = true;
    try {
      for (;;) {
        const state = this.snapshot.state;
        if (!state || this.closed) return;
        const page = await this.deps.events(this.id, state.lastSeq);
        this.receive(page.events);
        if (!page.more || !page.events.length) return;
      }
    } catch (exc) {
      console.warn("Could not replay run events:", errorMessage(exc));
    } finally {
      this.filling = false;
    }
  }

  /**
   * A status change from ws/events/. When it says the run ended, the final state is fetched now (the detail:
   * its node rows and results) instead of waiting for this run's own socket, which may still be connecting or
   * replaying: the feed's notification waits for it (`whenFinished`), so the canvas and the toast agree. A run
   * cancelled while queued has no event log: its detail is reloaded.
   */
  noteStatus(status: RunStatus): void {
    const state = this.snapshot.state;
    if (!state || isFinished(state)) return;
    const next = applyStatus(state, status);
    if (next !== state) this.set({ state: next });
    if (FINISHED.has(status)) void (state.lastSeq === 0 ? this.start() : this.reconcile());
  }

  /** Resolves once the run's state is finished, or after `timeoutMs` whatever it is (a notice is never lost). */
  whenFinished(timeoutMs = SETTLE_MS): Promise<void> {
    const finished = () => !!this.snapshot.state && isFinished(this.snapshot.state);
    if (finished() || this.closed) return Promise.resolve();
    // Arrow functions: a browser's setTimeout called as a method of another object throws "Illegal invocation".
    const timers = this.deps.timers ?? {
      set: (fn: () => void, ms: number) => setTimeout(fn, ms),
      clear: (h: unknown) => clearTimeout(h as ReturnType<typeof setTimeout>),
    };
    return new Promise((resolve) => {
      const done = () => {
        timers.clear(handle);
        unsubscribe();
        resolve();
      };
      const unsubscribe = this.subscribe(() => {
        if (finished()) done();
      });
      const handle = timers.set(done, timeoutMs);
    });
  }

  close(): void {
    this.closed = true;
    this.stopSocket();
    this.listeners.clear();
  }
}
