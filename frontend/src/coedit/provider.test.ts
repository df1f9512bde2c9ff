// The provider against an in-test relay speaking the server's protocol (one Y.Doc, updates relayed to the other
// sockets, readers' updates dropped with a notice): convergence, read-only, presence, reconnect with offline edits.
// The real server is tested with pycrdt clients (backend/coedit/tests/test_consumer.py).
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import { describe, expect, it } from "vitest";
import * as syncProtocol from "y-protocols/sync";
import * as Y from "yjs";
import { docFromDocument, documentFromDoc, setInput, setNodeLayout } from "./doc-model";
import { peersOf, showPresence } from "./presence";
import { CoeditProvider, MESSAGE_AWARENESS, MESSAGE_SYNC, type BinarySocket, type Notice } from "./provider";
import { createUndoManager, localOrigin } from "./undo";

class FakeSocket implements BinarySocket {
  binaryType = "blob";
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  open = true;
  opened = false; // as a browser's: send() before the open event throws
  constructor(
    private readonly relay: Relay,
    readonly canWrite: boolean,
  ) {}
  send(data: Uint8Array): void {
    if (!this.opened) throw new Error("Still in CONNECTING state");
    if (this.open) this.relay.receive(this, data);
  }
  close(code = 1000): void {
    if (!this.open) return;
    this.open = false;
    this.relay.sockets.delete(this);
    this.onclose?.({ code });
  }
  deliver(data: Uint8Array | string): void {
    if (this.open) this.onmessage?.({ data: typeof data === "string" ? data : data.slice().buffer });
  }
}

class Relay {
  doc = docFromDocument({
    graph: { nodes: { "1": { type: "core.Text", inputs: { text: "a cat" } } } },
    layout: { nodes: { "1": { x: 0, y: 0 } }, groups: [] },
  });
  sockets = new Set<FakeSocket>();

  connect(canWrite: boolean): FakeSocket {
    const socket = new FakeSocket(this, canWrite);
    this.sockets.add(socket);
    queueMicrotask(() => {
      socket.opened = true;
      socket.onopen?.({});
      socket.deliver(JSON.stringify({ type: "welcome", can_write: canWrite, user: { id: 1, name: "x" } }));
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, MESSAGE_SYNC);
      syncProtocol.writeSyncStep1(encoder, this.doc);
      socket.deliver(encoding.toUint8Array(encoder));
    });
    return socket;
  }

  receive(from: FakeSocket, data: Uint8Array): void {
    const decoder = decoding.createDecoder(data);
    const kind = decoding.readVarUint(decoder);
    if (kind === MESSAGE_AWARENESS) {
      for (const socket of this.sockets) if (socket !== from) socket.deliver(data);
      return;
    }
    const sub = decoding.readVarUint(decoder);
    const payload = decoding.readVarUint8Array(decoder);
    if (sub === syncProtocol.messageYjsSyncStep1) {
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, MESSAGE_SYNC);
      syncProtocol.writeSyncStep2(encoder, this.doc, payload);
      from.deliver(encoding.toUint8Array(encoder));
      return;
    }
    if (!from.canWrite) {
      if (sub === syncProtocol.messageYjsUpdate)
        from.deliver(JSON.stringify({ type: "read_only", message: "You can view this workflow but not edit it." }));
      return;
    }
    Y.applyUpdate(this.doc, payload);
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, MESSAGE_SYNC);
    syncProtocol.writeUpdate(encoder, payload);
    for (const socket of this.sockets) if (socket !== from) socket.deliver(encoding.toUint8Array(encoder));
  }
}

const noTimers = { set: (fn: () => void) => setTimeout(fn, 0), clear: (h: unknown) => clearTimeout(h as number) };
const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

function join(relay: Relay, canWrite: boolean, notices: Notice[] = []) {
  const sockets: FakeSocket[] = [];
  const provider = new CoeditProvider({
    workflowId: 1,
    doc: new Y.Doc(),
    factory: () => {
      const socket = relay.connect(canWrite);
      sockets.push(socket);
      return socket;
    },
    timers: noTimers,
    url: (path) => path,
    onNotice: (notice) => notices.push(notice),
  });
  return { provider, sockets };
}

describe("CoeditProvider", () => {
  it("syncs late joiners and relays concurrent edits until every copy is the same", async () => {
    const relay = new Relay();
    const a = join(relay, true).provider;
    const b = join(relay, true).provider;
    await tick();
    expect(a.status).toBe("synced");
    expect(documentFromDoc(a.doc).graph.nodes["1"]?.inputs.text).toBe("a cat");
    setInput(a.doc, "1", "text", "a red cat");
    setNodeLayout(b.doc, "1", { x: 10, y: 20 });
    await tick();
    const c = join(relay, true).provider;
    await tick();
    const docs = [a, b, c].map((p) => JSON.stringify(documentFromDoc(p.doc)));
    expect(new Set(docs).size).toBe(1);
    expect(documentFromDoc(c.doc).layout.nodes).toMatchObject({ "1": { x: 10, y: 20 } });
  });

  it("sends no edits for a reader, and reports the server's refusal", async () => {
    const relay = new Relay();
    const notices: Notice[] = [];
    const reader = join(relay, false, notices).provider;
    await tick();
    expect(reader.canWrite).toBe(false);
    setInput(reader.doc, "1", "text", "by the reader");
    await tick();
    expect(documentFromDoc(relay.doc).graph.nodes["1"]?.inputs.text).toBe("a cat");
    reader.canWrite = true; // a client that ignores the welcome: the server drops its update and says so
    setInput(reader.doc, "1", "text", "again");
    await tick();
    expect(documentFromDoc(relay.doc).graph.nodes["1"]?.inputs.text).toBe("a cat");
    expect(notices.map((n) => n.type)).toEqual(["welcome", "read_only"]);
  });

  it("shows presence to the others and clears it when a tab leaves", async () => {
    const relay = new Relay();
    const a = join(relay, true).provider;
    const b = join(relay, false).provider;
    showPresence(a.awareness, { user: { id: 7, name: "Ann Lee", color: "" } }); // while still connecting
    await tick();
    expect(peersOf(b.awareness)).toMatchObject([{ user: { id: 7 } }]);
    showPresence(a.awareness, { user: { id: 7, name: "Ann Lee", color: "" }, selection: ["1"], dragging: "1" });
    await tick();
    expect(peersOf(b.awareness)).toMatchObject([{ user: { id: 7, name: "Ann Lee" }, dragging: "1" }]);
    a.destroy();
    await tick();
    expect(peersOf(b.awareness)).toEqual([]);
  });

  it("reconnects after a drop and sends the edits made while away", async () => {
    const relay = new Relay();
    const { provider, sockets } = join(relay, true);
    await tick();
    sockets[0]!.close(1006);
    expect(provider.status).toBe("waiting");
    setInput(provider.doc, "1", "text", "written offline");
    await tick();
    await tick();
    expect(provider.status).toBe("synced");
    expect(documentFromDoc(relay.doc).graph.nodes["1"]?.inputs.text).toBe("written offline");
  });

  it("stops for good when the server says the member has no access", async () => {
    const relay = new Relay();
    const { provider, sockets } = join(relay, true);
    await tick();
    sockets[0]!.close(4404);
    await tick();
    expect(provider.status).toBe("closed");
    expect(sockets).toHaveLength(1);
  });

  it("undoes only this person's own edits", async () => {
    const relay = new Relay();
    const a = join(relay, true).provider;
    const b = join(relay, true).provider;
    await tick();
    const origin = localOrigin();
    const undo = createUndoManager(a.doc, origin);
    setInput(a.doc, "1", "text", "mine", origin);
    await tick();
    setNodeLayout(b.doc, "1", { x: 55, y: 66 });
    await tick();
    undo.undo();
    await tick();
    const { graph, layout } = documentFromDoc(b.doc);
    expect(graph.nodes["1"]?.inputs.text).toBe("a cat");
    expect(layout.nodes).toMatchObject({ "1": { x: 55, y: 66 } });
  });

  it("flushes: resolves once the server holds every edit made before, also across a reconnect", async () => {
    const relay = new Relay();
    const { provider, sockets } = join(relay, true);
    const early = provider.flush(); // before the first sync: waits for it
    await tick();
    await early;
    setInput(provider.doc, "1", "text", "saved next");
    await provider.flush();
    expect(documentFromDoc(relay.doc).graph.nodes["1"]?.inputs.text).toBe("saved next");
    sockets[0]!.close(1006);
    setInput(provider.doc, "1", "text", "written away");
    const later = provider.flush();
    expect(documentFromDoc(relay.doc).graph.nodes["1"]?.inputs.text).toBe("saved next");
    await later;
    expect(documentFromDoc(relay.doc).graph.nodes["1"]?.inputs.text).toBe("written away");
    provider.destroy();
    await expect(provider.flush()).rejects.toThrow();
  });
});
