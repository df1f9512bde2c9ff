// The browser's end of ws/workflows/<id>/doc/ (backend/coedit/consumers.py): keeps a Y.Doc and an Awareness in
// step with the server over the Yjs sync and awareness protocols, reconnecting with backoff. Binary frames are
// Yjs messages; text frames are the server's notices (welcome with `can_write`, read_only, access_changed,
// version_saved).
// y-websocket's provider is not used: it cannot read our text notices, and it would not use our close codes.
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import * as awarenessProtocol from "y-protocols/awareness";
import * as syncProtocol from "y-protocols/sync";
import type * as Y from "yjs";
import { z } from "zod";
import { backoffDelay, wsUrl, type Timers } from "../runs/reconnecting-socket";

export const MESSAGE_SYNC = 0;
export const MESSAGE_AWARENESS = 1;
/** Close codes after which reconnecting cannot help: signed out, no access (or removed from the team). */
export const FINAL_CODES = new Set([4401, 4404]);

export const noticeSchema = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("welcome"),
    can_write: z.boolean(),
    user: z.object({ id: z.number(), name: z.string() }),
  }),
  z.object({ type: z.literal("read_only"), message: z.string() }),
  z.object({ type: z.literal("access_changed"), can_write: z.boolean() }),
  z.object({ type: z.literal("version_saved"), version: z.number(), created: z.boolean(), source: z.string() }),
]);
export type Notice = z.infer<typeof noticeSchema>;

/** The part of the browser WebSocket the provider uses. */
export interface BinarySocket {
  binaryType: string;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: Uint8Array): void;
  close(code?: number): void;
}

export type ProviderStatus = "connecting" | "synced" | "waiting" | "closed";

export interface ProviderOptions {
  workflowId: number;
  doc: Y.Doc;
  onStatus?: (status: ProviderStatus, code?: number) => void;
  onNotice?: (notice: Notice) => void;
  factory?: (url: string) => BinarySocket;
  timers?: Timers;
  url?: (path: string) => string;
}

const realTimers: Timers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export class CoeditProvider {
  readonly doc: Y.Doc;
  readonly awareness: awarenessProtocol.Awareness;
  /** Null until the server's welcome says; false for viewers and runners (their edits are not sent). */
  canWrite: boolean | null = null;
  status: ProviderStatus = "connecting";
  private socket: BinarySocket | null = null;
  private connected = false; // open: a socket still connecting refuses send()
  private timer: unknown = null;
  private attempt = 0;
  private stopped = false;
  private readonly options: ProviderOptions;
  private readonly timers: Timers;
  /** One entry per sync step 1 sent on the open socket, in order: the server answers each with a step 2, after
   * every message sent before it (a consumer handles its socket's messages one at a time, storing each update). */
  private awaitingStep2: (((error?: Error) => void) | null)[] = [];
  private flushesAfterSync: ((error?: Error) => void)[] = [];

  constructor(options: ProviderOptions) {
    this.options = options;
    this.doc = options.doc;
    this.timers = options.timers ?? realTimers;
    this.awareness = new awarenessProtocol.Awareness(this.doc);
    this.doc.on("update", this.onDocUpdate);
    this.awareness.on("update", this.onAwarenessUpdate);
    this.connect();
  }

  private setStatus(status: ProviderStatus, code?: number): void {
    this.status = status;
    this.options.onStatus?.(status, code);
  }

  private connect(): void {
    if (this.stopped) return;
    this.setStatus("connecting");
    const path = `/ws/workflows/${this.options.workflowId}/doc/`;
    const url = (this.options.url ?? wsUrl)(path);
    const socket = this.options.factory ? this.options.factory(url) : (new WebSocket(url) as unknown as BinarySocket);
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    this.connected = false;
    socket.onopen = () => {
      if (socket !== this.socket) return;
      this.connected = true;
      this.sendStep1(null);
      if (this.awareness.getLocalState() !== null) this.sendAwareness([this.doc.clientID]);
    };
    socket.onmessage = (ev) => {
      if (socket !== this.socket) return;
      if (typeof ev.data === "string") this.receiveNotice(ev.data);
      else if (ev.data instanceof ArrayBuffer) this.receive(new Uint8Array(ev.data));
      else if (ev.data instanceof Uint8Array) this.receive(ev.data);
    };
    socket.onerror = () => undefined; // a close follows
    socket.onclose = (ev) => {
      if (socket !== this.socket) return;
      this.socket = null;
      this.connected = false;
      this.requeueFlushes();
      // Others' presence is unknown while away; the server sends it again on reconnect.
      const others = [...this.awareness.getStates().keys()].filter((id) => id !== this.doc.clientID);
      awarenessProtocol.removeAwarenessStates(this.awareness, others, this);
      if (this.stopped) return;
      if (FINAL_CODES.has(ev.code)) {
        this.stopped = true;
        this.setStatus("closed", ev.code);
        return;
      }
      const delay = backoffDelay(this.attempt);
      this.attempt += 1;
      this.setStatus("waiting", ev.code);
      this.timer = this.timers.set(() => {
        this.timer = null;
        this.connect();
      }, delay);
    };
  }

  private receiveNotice(text: string): void {
    let parsed: ReturnType<typeof noticeSchema.safeParse>;
    try {
      parsed = noticeSchema.safeParse(JSON.parse(text));
    } catch {
      return;
    }
    if (!parsed.success) return;
    const notice = parsed.data;
    if (notice.type === "welcome" || notice.type === "access_changed") this.canWrite = notice.can_write;
    this.options.onNotice?.(notice);
  }

  private receive(data: Uint8Array): void {
    const decoder = decoding.createDecoder(data);
    const kind = decoding.readVarUint(decoder);
    if (kind === MESSAGE_SYNC) {
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, MESSAGE_SYNC);
      const step = syncProtocol.readSyncMessage(decoder, encoder, this.doc, this);
      // A reader's reply to the server's step 1 is sent too: it holds nothing the server lacks.
      if (encoding.length(encoder) > 1) this.send(encoding.toUint8Array(encoder));
      if (step === syncProtocol.messageYjsSyncStep2) {
        this.attempt = 0;
        this.awaitingStep2.shift()?.();
        if (this.status !== "synced") this.setStatus("synced");
        const waiting = this.flushesAfterSync;
        this.flushesAfterSync = [];
        for (const done of waiting) this.sendStep1(done);
      }
    } else if (kind === MESSAGE_AWARENESS) {
      awarenessProtocol.applyAwarenessUpdate(this.awareness, decoding.readVarUint8Array(decoder), this);
    }
  }

  private readonly onDocUpdate = (update: Uint8Array, origin: unknown): void => {
    // Edits made while away (or connecting) go in the reply to the server's sync step 1 on (re)connect.
    if (origin === this || this.canWrite === false || !this.connected) return;
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, MESSAGE_SYNC);
    syncProtocol.writeUpdate(encoder, update);
    this.send(encoding.toUint8Array(encoder));
  };

  private readonly onAwarenessUpdate = (
    changes: { added: number[]; updated: number[]; removed: number[] },
    origin: unknown,
  ): void => {
    if (origin === this) return;
    this.sendAwareness([...changes.added, ...changes.updated, ...changes.removed]);
  };

  private sendAwareness(clients: number[]): void {
    if (!this.connected || clients.length === 0) return;
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, MESSAGE_AWARENESS);
    encoding.writeVarUint8Array(encoder, awarenessProtocol.encodeAwarenessUpdate(this.awareness, clients));
    this.send(encoding.toUint8Array(encoder));
  }

  private sendStep1(done: ((error?: Error) => void) | null): void {
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, MESSAGE_SYNC);
    syncProtocol.writeSyncStep1(encoder, this.doc);
    this.awaitingStep2.push(done);
    this.socket?.send(encoding.toUint8Array(encoder));
  }

  /** A lost connection: the edits not yet acknowledged are sent again once synced, and so are the flushes. */
  private requeueFlushes(): void {
    const waiting = this.awaitingStep2.filter((done) => done !== null);
    this.awaitingStep2 = [];
    this.flushesAfterSync.push(...waiting);
  }

  /** Resolves once the server has stored every edit made here so far (what saving the draft needs first): a sync
   * step 1 sent after them is answered only after they were handled. Waits for a connection (edits made while
   * away are sent on reconnecting, before the step 2 that makes the provider "synced"); rejects after `timeoutMs`
   * or when the provider is closed. */
  flush(timeoutMs = 15000): Promise<void> {
    if (this.stopped) return Promise.reject(new Error("Not connected to the live draft."));
    return new Promise((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (!settled) done(new Error("The server did not confirm your latest edits in time; try again."));
      }, timeoutMs);
      const done = (error?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) reject(error);
        else resolve();
      };
      if (this.connected && this.status === "synced") this.sendStep1(done);
      else this.flushesAfterSync.push(done);
    });
  }

  private send(data: Uint8Array): void {
    if (this.connected) this.socket?.send(data);
  }

  /** Leave: tell the others, close for good. */
  destroy(): void {
    if (this.stopped) return;
    this.awareness.setLocalState(null);
    this.stopped = true;
    this.requeueFlushes();
    for (const done of this.flushesAfterSync) done(new Error("Left the live draft."));
    this.flushesAfterSync = [];
    if (this.timer !== null) this.timers.clear(this.timer);
    this.doc.off("update", this.onDocUpdate);
    this.awareness.off("update", this.onAwarenessUpdate);
    this.awareness.destroy();
    const socket = this.socket;
    this.socket = null;
    socket?.close(1000);
    this.setStatus("closed");
  }
}
