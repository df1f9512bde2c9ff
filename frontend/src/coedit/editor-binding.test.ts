// The editor's store bound to a Y.Doc: local edits become Yjs writes, others' edits reach the store, both
// survive when concurrent, and loading a remote change writes nothing back.
import { describe, expect, it } from "vitest";
import * as Y from "yjs";
import { sampleSchemas } from "../editor/fixtures";
import { createEditorStore, type EditorStore } from "../editor/store";
import { docFromDocument, documentFromDoc } from "./doc-model";
import { bindEditorStore } from "./editor-binding";
import { localOrigin } from "./undo";

const TYPE = sampleSchemas.find((s) => s.inputs.some((i) => i.widget?.kind === "text" && i.mode !== "socket"))!;
const WIDGET = TYPE.inputs.find((i) => i.widget?.kind === "text" && i.mode !== "socket")!.name;

function tab(doc: Y.Doc): { store: EditorStore; updates: () => number } {
  const store = createEditorStore({ schemas: sampleSchemas });
  const origin = localOrigin();
  let count = 0;
  doc.on("update", (_u: Uint8Array, from: unknown) => {
    if (from === origin) count += 1;
  });
  bindEditorStore(store, doc, origin).loadFromDoc();
  return { store, updates: () => count };
}

function link(a: Y.Doc, b: Y.Doc): void {
  a.on("update", (u: Uint8Array, from: unknown) => from !== "remote" && Y.applyUpdate(b, u, "remote"));
  b.on("update", (u: Uint8Array, from: unknown) => from !== "remote" && Y.applyUpdate(a, u, "remote"));
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("bindEditorStore", () => {
  it("sends local edits, shows others' edits, keeps concurrent ones, and writes nothing back for a remote load", async () => {
    const a = docFromDocument({
      graph: { nodes: { "1": { type: TYPE.type, inputs: {} }, "2": { type: TYPE.type, inputs: {} } } },
      layout: { nodes: { "1": { x: 0, y: 0 }, "2": { x: 300, y: 0 } }, groups: [] },
    });
    const b = new Y.Doc();
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
    link(a, b);
    const first = tab(a);
    const second = tab(b);
    expect(Object.keys(second.store.getState().graph.nodes).sort()).toEqual(["1", "2"]);

    first.store.getState().setWidgetValue("1", WIDGET, "typed in tab one");
    second.store.getState().moveNodes({ "2": { x: 40, y: 50 } });
    await settle();
    expect(second.store.getState().graph.nodes["1"]?.values[WIDGET]).toBe("typed in tab one");
    expect(first.store.getState().graph.nodes["2"]?.position).toEqual({ x: 40, y: 50 });
    expect(first.updates()).toBe(1);
    expect(second.updates()).toBe(1);

    second.store.getState().select(["2"]);
    first.store.getState().select(["2"]);
    first.store.getState().deleteSelection();
    await settle();
    expect(second.store.getState().graph.nodes["2"]).toBeUndefined();
    expect(second.store.getState().selectedNodes).toEqual([]);

    const id = first.store.getState().addNode(TYPE.type, { x: 900, y: 900 })!;
    await settle();
    expect(second.store.getState().graph.nodes[id]?.type).toBe(TYPE.type);
    expect(documentFromDoc(a).graph.nodes[id]).toBeDefined();
    expect(JSON.stringify(documentFromDoc(a))).toBe(JSON.stringify(documentFromDoc(b)));
  });

  it("undoes this tab's own edits only, in the store and in the others'", async () => {
    const a = docFromDocument({
      graph: { nodes: { "1": { type: TYPE.type, inputs: { [WIDGET]: "before" } } } },
      layout: { nodes: { "1": { x: 0, y: 0 } }, groups: [] },
    });
    const b = new Y.Doc();
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
    link(a, b);
    const first = tab(a);
    const second = tab(b);
    first.store.getState().setWidgetValue("1", WIDGET, "mine");
    await settle();
    second.store.getState().moveNodes({ "1": { x: 70, y: 80 } });
    await settle();
    expect(first.store.getState().canUndo()).toBe(true);
    first.store.getState().undo();
    await settle();
    for (const { store } of [first, second]) {
      expect(store.getState().graph.nodes["1"]?.values[WIDGET]).toBe("before");
      expect(store.getState().graph.nodes["1"]?.position).toEqual({ x: 70, y: 80 });
    }
    expect(first.store.getState().canRedo()).toBe(true);
    first.store.getState().redo();
    await settle();
    expect(second.store.getState().graph.nodes["1"]?.values[WIDGET]).toBe("mine");
  });
});
