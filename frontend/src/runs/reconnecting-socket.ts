// A websocket that reconnects with exponential backoff, asking for a fresh URL each time (so a run socket can
// resume with `after=<last seq>`). Every frame is parsed with a zod schema; frames that do not parse are
// reported, never acted on. Transport and timers are injectable for tests.
import type { z } from "zod";
import { FINAL_CLOSE_CODES } from "./run-schemas";

/** The part of the browser WebSocket this module uses. */
export interface SocketLike {
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason?: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  close(code?: number): void;
}
export type SocketFactory = (url: string) => SocketLike;

export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const realTimers: Timers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export const BACKOFF_BASE_MS = 500;
export const BACKOFF_MAX_MS = 15_000;

/** Delay before reconnect attempt `attempt` (0-based): 0.5 s, 1 s, 2 s … capped, with up to 20 % jitter. */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const raw = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt);
  return Math.round(raw * (1 + 0.2 * random()));
}

export type ConnectionState = "connecting" | "open" | "waiting" | "closed";

export interface ReconnectingSocketOptions<S extends z.ZodType> {
  /** The URL for the next connection (called before every attempt). */
  url: () => string;
  schema: S;
  onMessage: (message: z.infer<S>) => void;
  onState?: (state: ConnectionState, detail: { code?: number; attempt: number }) => void;
  onInvalid?: (raw: unknown, error: string) => void;
  /** Called once the connection ends for good (a final close code or `stop()`). */
  onFinal?: (code: number | null) => void;
  factory?: SocketFactory;
  timers?: Timers;
  random?: () => number;
}

export function wsUrl(path: string, location: Pick<Location, "protocol" | "host"> = window.location): string {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;
}

const browserFactory: SocketFactory = (url) => new WebSocket(url) as unknown as SocketLike;

export class ReconnectingSocket<S extends z.ZodType> {
  private socket: SocketLike | null = null;
  private timer: unknown = null;
  private attempt = 0;
  private stopped = false;
  private readonly options: ReconnectingSocketOptions<S>;
  private readonly timers: Timers;
  private readonly factory: SocketFactory;

  constructor(options: ReconnectingSocketOptions<S>) {
    this.options = options;
    this.timers = options.timers ?? realTimers;
    this.factory = options.factory ?? browserFactory;
    this.connect();
  }

  private connect(): void {
    if (this.stopped) return;
    this.options.onState?.("connecting", { attempt: this.attempt });
    const socket = this.factory(this.options.url());
    this.socket = socket;
    socket.onopen = () => {
      if (socket !== this.socket) return;
      this.attempt = 0;
      this.options.onState?.("open", { attempt: 0 });
    };
    socket.onmessage = (ev) => {
      if (socket !== this.socket) return;
      let raw: unknown;
      try {
        raw = typeof ev.data === "string" ? JSON.parse(ev.data) : ev.data;
      } catch {
        this.options.onInvalid?.(ev.data, "not JSON");
        return;
      }
      const parsed = this.options.schema.safeParse(raw);
      if (!parsed.success) {
        this.options.onInvalid?.(raw, parsed.error.issues[0]?.message ?? "invalid");
        return;
      }
      this.options.onMessage(parsed.data);
    };
    socket.onerror = () => undefined; // a close follows
    socket.onclose = (ev) => {
      if (socket !== this.socket) return;
      this.socket = null;
      if (this.stopped) return;
      if (FINAL_CLOSE_CODES.has(ev.code)) {
        this.stopped = true;
        this.options.onState?.("closed", { code: ev.code, attempt: this.attempt });
        this.options.onFinal?.(ev.code);
        return;
      }
      const delay = backoffDelay(this.attempt, this.options.random);
      this.attempt += 1;
      this.options.onState?.("waiting", { code: ev.code, attempt: this.attempt });
      this.timer = this.timers.set(() => {
        this.timer = null;
        this.connect();
      }, delay);
    };
  }

  /** Close for good (no reconnect). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== null) this.timers.clear(this.timer);
    this.timer = null;
    const socket = this.socket;
    this.socket = null;
    socket?.close(1000);
    this.options.onState?.("closed", { attempt: this.attempt });
    this.options.onFinal?.(null);
  }

  get isStopped(): boolean {
    return this.stopped;
  }
}
