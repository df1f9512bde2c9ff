// Conflicts between two people editing the same draft at once, each through the editor's store bound to a Y.Doc
// of their own: the two docs exchange nothing while both edit ("at once"), then merge, as two browsers whose
// updates cross on the server. Nodes, groups, notes and reroutes added at once get different ids (integers, as
// ComfyUI's); a node deleted while the other edits it stays deleted and the other is told, naming it; different
// widgets both survive; the same widget converges.
import { describe, expect, it } from "vitest";
import * as Y from "yjs";
import { addNote, addReroute } from "../editor/canvas-items";
import { sampleSchemas } from "../editor/fixtures";
import { WHOLE_ID_SPACE } from "../editor/graph-model";
import { groupAround } from "../editor/groups";
import { createEditorStore, type EditorStore } from "../editor/store";
import { docFromDocument, documentFromDoc } from "./doc-model";
import { bindEditorStore } from "./editor-binding";
import { clientIdSpace } from "./ids";
import { localOrigin } from "./undo";

const TYPE = sampleSchemas.find(
  (s) => s.inputs.filter((i) => i.widget?.kind === "text" && i.mode !== "socket").length >= 1 && s.outputs.length,
)!;
const WIDGETS = sampleSchemas
  .flatMap((s) => s.inputs.filter((i) => i.widget && i.mode !== "socket").map((i) => ({ schema: s, input: i })))
  .filter(({ schema }) => schema.inputs.filter((i) => i.widget && i.mode !== "socket").length >= 2);
const TWO = WIDGETS[0]!.schema; // a type with two widgets at least
const [W1, W2] = TWO.inputs.filter((i) => i.widget && i.mode !== "socket").map((i) => i.name);
/** An input of another type that takes TYPE's first output as a link. */
const SINK = sampleSchemas
  .flatMap((schema) =>
    schema.inputs.map((input) => ({ schema, input: input.name, type: input.type, widget: input.widget })),
  )
  .find((i) => i.type === TYPE.outputs[0]!.type && !i.widget)!;
const TEXT = TYPE.inputs.find((i) => i.widget?.kind === "text" && i.mode !== "socket")!.name;

function start(): Y.Doc {
  return docFromDocument({
    graph: {
      nodes: {
        "1": { type: TYPE.type, inputs: { [TEXT]: "start" } },
        "2": { type: TWO.type, inputs: {} },
      },
    },
    layout: { nodes: { "1": { x: 0, y: 0 }, "2": { x: 300, y: 0 } }, groups: [] },
  });
}

function tab(doc: Y.Doc): EditorStore {
  const store = createEditorStore({ schemas: sampleSchemas });
  bindEditorStore(store, doc, localOrigin()).loadFromDoc();
  return store;
}

/** Two people on copies of one draft; `merge` delivers what each did to the other (both directions at once). */
function pair() {
  const a = start();
  const b = new Y.Doc();
  Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
  return {
    a,
    b,
    first: tab(a),
    second: tab(b),
    merge: async () => {
      const fromA = Y.encodeStateAsUpdate(a, Y.encodeStateVector(b));
      const fromB = Y.encodeStateAsUpdate(b, Y.encodeStateVector(a));
      Y.applyUpdate(b, fromA, "remote");
      Y.applyUpdate(a, fromB, "remote");
      await new Promise((resolve) => setTimeout(resolve, 0));
    },
  };
}

/** JSON with sorted keys: the same content whatever order each copy's maps list their keys in. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([x], [y]) => x.localeCompare(y)))
      : v,
  );
const same = (a: Y.Doc, b: Y.Doc) => canonical(documentFromDoc(a)) === canonical(documentFromDoc(b));

describe("two people editing one draft at once", () => {
  it("never give two new nodes the same id, and the ids are integers", async () => {
    const { a, b, first, second, merge } = pair();
    const mine = [first.getState().addNode(TYPE.type, { x: 0, y: 400 })!];
    const theirs = [second.getState().addNode(TYPE.type, { x: 400, y: 400 })!];
    first.getState().select(["1"]);
    first.getState().duplicateSelection();
    mine.push(...first.getState().selectedNodes);
    second.getState().select(["1"]);
    second.getState().paste(second.getState().copySelection()!);
    theirs.push(...second.getState().selectedNodes);
    await merge();
    expect(new Set([...mine, ...theirs]).size).toBe(4);
    for (const id of [...mine, ...theirs]) expect(Number.isSafeInteger(Number(id))).toBe(true);
    const nodes = documentFromDoc(a).graph.nodes;
    expect(Object.keys(nodes).sort()).toEqual(["1", "2", ...mine, ...theirs].sort());
    expect(same(a, b)).toBe(true);
    for (const store of [first, second]) expect(Object.keys(store.getState().graph.nodes)).toHaveLength(6);
  });

  it("would lose a node with the editor's numbering alone (what the ranges prevent)", async () => {
    const { a, first, second, merge } = pair();
    first.setState({ idSpace: WHOLE_ID_SPACE });
    second.setState({ idSpace: WHOLE_ID_SPACE });
    const x = first.getState().addNode(TYPE.type, { x: 0, y: 400 });
    const y = second.getState().addNode(TWO.type, { x: 400, y: 400 });
    expect(x).toBe(y); // "3" twice: after merging, one of the two nodes is gone
    await merge();
    expect(Object.keys(documentFromDoc(a).graph.nodes)).toHaveLength(3);
  });

  it("give groups, notes and reroutes added at once different ids", async () => {
    const { a, b, first, second, merge } = pair();
    const added = first.getState().addNode(SINK.schema.type, { x: 600, y: 0 })!;
    expect(first.getState().connect({ source: "1", sourceOutput: 0, target: added, targetInput: SINK.input })).toEqual({
      ok: true,
    });
    await merge();
    const edge = second.getState().graph.edges[0]!;
    expect(edge.target).toBe(added);
    for (const store of [first, second]) {
      const s = store.getState();
      const group = groupAround(s.graph, ["1"], {}, "G", s.idSpace)!;
      s.change((g) => ({ ...g, groups: [...g.groups, group] }));
      s.change((g) => addNote(g, { x: 10, y: 10 }, "hi", true, store.getState().idSpace).graph);
      s.change((g) => addReroute(g, edge.id, { x: 5, y: 5 }, store.getState().idSpace)?.graph ?? g);
    }
    await merge();
    const layout = documentFromDoc(a).layout as Record<string, { id: string }[]>;
    expect(new Set(layout.groups!.map((g) => g.id)).size).toBe(2);
    expect(new Set(layout.notes!.map((n) => n.id)).size).toBe(2);
    expect(new Set(layout.reroutes!.map((r) => r.id)).size).toBe(2);
    expect(same(a, b)).toBe(true);
  });

  it("keep a node deleted while the other edits it, and tell the other, naming it", async () => {
    const { a, b, first, second, merge } = pair();
    second.getState().setWidgetValue("1", TEXT, "typed as it went"); // edited, not selected
    first.getState().select(["1"]);
    first.getState().deleteSelection();
    await merge();
    for (const doc of [a, b]) expect(documentFromDoc(doc).graph.nodes["1"]).toBeUndefined();
    expect(second.getState().graph.nodes["1"]).toBeUndefined();
    const notice = second.getState().notice;
    expect(notice?.kind).toBe("error");
    expect(notice?.text).toContain("node 1");
    expect(notice?.text).toContain("deleted by someone else");
    // Typing on into the widget the tab still showed does not bring it back either.
    second.getState().setWidgetValue("1", TEXT, "more");
    await merge();
    expect(documentFromDoc(a).graph.nodes["1"]).toBeUndefined();
    expect(first.getState().notice).toBeNull();
    expect(same(a, b)).toBe(true);
  });

  it("keep both edits of different widgets, and converge on one value for the same widget", async () => {
    const { a, b, first, second, merge } = pair();
    first.getState().setWidgetValue("2", W1!, "left");
    second.getState().setWidgetValue("2", W2!, "right");
    await merge();
    for (const store of [first, second]) {
      const values = store.getState().graph.nodes["2"]!.values;
      expect([values[W1!], values[W2!]]).toEqual(["left", "right"]);
    }
    first.getState().setWidgetValue("1", TEXT, "from one");
    second.getState().setWidgetValue("1", TEXT, "from two");
    await merge();
    const one = first.getState().graph.nodes["1"]!.values[TEXT];
    expect(["from one", "from two"]).toContain(one);
    expect(second.getState().graph.nodes["1"]!.values[TEXT]).toBe(one);
    expect(same(a, b)).toBe(true);
  });

  it("number each tab in its own range", () => {
    const a = clientIdSpace(1);
    const b = clientIdSpace(2);
    expect(a.last).toBeLessThan(b.first);
    expect(Number.isSafeInteger(clientIdSpace(2 ** 32 - 1).last)).toBe(true);
  });
});
