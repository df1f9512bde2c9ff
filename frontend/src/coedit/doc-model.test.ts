// The Y.Doc mapping (doc-model.ts): round trips, concurrent edits merging, and documents written by pycrdt
// (backend/coedit/document.py) read the same here (__fixtures__/cross-language.json; see its pytest).
import { describe, expect, it } from "vitest";
import * as Y from "yjs";
import fixture from "./__fixtures__/cross-language.json";
import {
  addNode,
  docFromDocument,
  documentFromDoc,
  newNodeId,
  removeNode,
  setInput,
  setNodeLayout,
  type JsonDocument,
} from "./doc-model";

const DOCUMENT = fixture.document as unknown as JsonDocument;

/** JSON with sorted keys, as the server hashes documents. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}

function replica(doc: Y.Doc): Y.Doc {
  const other = new Y.Doc();
  Y.applyUpdate(other, Y.encodeStateAsUpdate(doc));
  return other;
}

function exchange(...docs: Y.Doc[]): void {
  const updates = docs.map((doc) => Y.encodeStateAsUpdate(doc));
  for (const doc of docs) for (const update of updates) Y.applyUpdate(doc, update);
}

const fromBase64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
const toBase64 = (bytes: Uint8Array) => btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(""));
// Node's process and fs, reached without Node's types (the app's tsconfig has none): only to rewrite the fixture.
const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};

describe("doc-model", () => {
  it("reads a document back the same from another replica", () => {
    expect(canonical(documentFromDoc(replica(docFromDocument(DOCUMENT))))).toBe(canonical(DOCUMENT));
  });

  it("reads a document written by pycrdt the same, and writes one pycrdt reads", async () => {
    const doc = new Y.Doc();
    Y.applyUpdate(doc, fromBase64(fixture.from_pycrdt));
    expect(canonical(documentFromDoc(doc))).toBe(canonical(DOCUMENT));
    const ours = Y.encodeStateAsUpdate(docFromDocument(DOCUMENT));
    if (env.COEDIT_WRITE_FIXTURES === "1") {
      const fs = (await import(/* @vite-ignore */ `node:${"fs"}`)) as {
        writeFileSync: (path: URL, text: string) => void;
      };
      const written = { ...fixture, from_yjs: toBase64(ours) };
      fs.writeFileSync(
        new URL("./__fixtures__/cross-language.json", import.meta.url),
        JSON.stringify(written, null, 2) + "\n",
      );
    }
    const stored = new Y.Doc();
    Y.applyUpdate(stored, fromBase64(fixture.from_yjs));
    expect(canonical(documentFromDoc(stored))).toBe(canonical(DOCUMENT));
  });

  it("keeps concurrent edits of different widgets and fields, and converges on the same widget", () => {
    const a = docFromDocument(DOCUMENT);
    const b = replica(a);
    const c = replica(a);
    setInput(a, "1", "steps", 30, "a");
    setInput(b, "1", "cfg", 4, "b");
    setNodeLayout(c, "1", { x: 99, y: 98 }, "c");
    setInput(a, "2", "name", "from a");
    setInput(b, "2", "name", "from b");
    exchange(a, b, c);
    const results = [a, b, c].map((doc) => canonical(documentFromDoc(doc)));
    expect(new Set(results).size).toBe(1);
    const { graph, layout } = documentFromDoc(a);
    expect(graph.nodes["1"]?.inputs).toMatchObject({ steps: 30, cfg: 4 });
    expect((layout.nodes as Record<string, unknown>)["1"]).toMatchObject({ x: 99, y: 98, mode: "bypass" });
    expect(["from a", "from b"]).toContain(graph.nodes["2"]?.inputs.name);
  });

  it("keeps a node deleted while another edits it deleted, and says the edit found no node", () => {
    const a = docFromDocument(DOCUMENT);
    const b = replica(a);
    removeNode(a, "2");
    setInput(b, "2", "name", "late");
    exchange(a, b);
    expect(documentFromDoc(a).graph.nodes["2"]).toBeUndefined();
    expect(documentFromDoc(b).graph.nodes["2"]).toBeUndefined();
    expect(setInput(b, "2", "name", "later")).toBe(false);
  });

  it("gives nodes added at once by two people different ids", () => {
    const a = docFromDocument(DOCUMENT);
    const b = replica(a);
    const ids = [newNodeId(a), newNodeId(b)];
    addNode(a, ids[0]!, "core.Text", { text: "a" }, { x: 0, y: 0 });
    addNode(b, ids[1]!, "core.Text", { text: "b" }, { x: 0, y: 0 });
    exchange(a, b);
    expect(ids[0]).not.toBe(ids[1]);
    for (const id of ids) expect(Number.isSafeInteger(Number(id))).toBe(true);
    expect(Object.keys(documentFromDoc(a).graph.nodes)).toEqual(expect.arrayContaining(ids));
  });
});
