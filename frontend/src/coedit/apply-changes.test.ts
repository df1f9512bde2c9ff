// applyChanges: the editor's JSON edits written into the Y.Doc key by key, never reverting others' changes.
import { describe, expect, it } from "vitest";
import * as Y from "yjs";
import fixture from "./__fixtures__/cross-language.json";
import { applyChanges } from "./apply-changes";
import { docFromDocument, documentFromDoc, roots, setNodeLayout, type JsonDocument } from "./doc-model";

const BASE = fixture.document as unknown as JsonDocument;
const copy = (document: JsonDocument): JsonDocument => JSON.parse(JSON.stringify(document)) as JsonDocument;

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

type Layout = Record<string, unknown> & {
  nodes: Record<string, Record<string, unknown>>;
  groups: Record<string, unknown>[];
  notes: Record<string, unknown>[];
  app: { inputs: Record<string, unknown>[]; outputs: Record<string, unknown>[] };
};
const layoutOf = (document: JsonDocument) => document.layout as Layout;

describe("applyChanges", () => {
  it("turns every kind of edit into writes that read back as the edited document", () => {
    const doc = docFromDocument(BASE);
    const after = copy(BASE);
    after.graph.nodes["1"]!.inputs.steps = 31;
    delete after.graph.nodes["1"]!.inputs.odd;
    after.graph.nodes["11"] = { type: "core.Text", inputs: { text: "new" } };
    delete after.graph.nodes["2"];
    after.graph.outputs = ["10", "11"];
    after.graph.subgraphs = { sub: { nodes: {} } };
    const layout = layoutOf(after);
    delete layout.nodes["2"];
    layout.nodes["11"] = { x: 7, y: 8 };
    layout.nodes["1"] = { ...layout.nodes["1"], x: 500, title: undefined };
    layout.groups = [
      { ...layout.groups[1]!, title: "Renamed" },
      { id: "g3", title: "New", x: 0, y: 0, width: 1, height: 1 },
    ];
    layout.notes = [];
    layout.app.inputs.push({ name: "text", node: "11", input: "text" });
    layout.reroutes = undefined as unknown as [];
    const writes = applyChanges(doc, BASE, after);
    const expected = JSON.parse(JSON.stringify(after)) as JsonDocument;
    expect(canonical(documentFromDoc(replica(doc)))).toBe(canonical(expected));
    expect(writes).toBeLessThan(40);
    expect(applyChanges(doc, after, after)).toBe(0);
  });

  it("never reverts a change that reached the doc after the editor's copy", () => {
    const a = docFromDocument(BASE);
    const b = replica(a);
    setNodeLayout(b, "1", { x: 999, y: 888 });
    Y.applyUpdate(a, Y.encodeStateAsUpdate(b)); // arrives while a's editor still shows BASE
    const after = copy(BASE);
    after.graph.nodes["2"]!.inputs.name = "edited";
    applyChanges(a, BASE, after);
    const { graph, layout } = documentFromDoc(a);
    expect((layout.nodes as Layout["nodes"])["1"]).toMatchObject({ x: 999, y: 888 });
    expect(graph.nodes["2"]?.inputs.name).toBe("edited");
  });

  it("lets two editors' concurrent edits of one node both survive", () => {
    const a = docFromDocument(BASE);
    const b = replica(a);
    const mine = copy(BASE);
    mine.graph.nodes["1"]!.inputs.cfg = 3;
    const theirs = copy(BASE);
    layoutOf(theirs).nodes["1"]!.x = 42;
    theirs.graph.nodes["1"]!.inputs.steps = 5;
    applyChanges(a, BASE, mine, "a");
    applyChanges(b, BASE, theirs, "b");
    Y.applyUpdate(a, Y.encodeStateAsUpdate(b));
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
    expect(canonical(documentFromDoc(a))).toBe(canonical(documentFromDoc(b)));
    const { graph, layout } = documentFromDoc(a);
    expect(graph.nodes["1"]?.inputs).toMatchObject({ cfg: 3, steps: 5 });
    expect((layout.nodes as Layout["nodes"])["1"]).toMatchObject({ x: 42, mode: "bypass" });
  });

  it("merges edits inside a subgraph node by node and widget by widget, as at the top level", () => {
    type Sub = { name?: string; nodes: JsonDocument["graph"]["nodes"] };
    const subOf = (document: JsonDocument) => (document.graph.subgraphs as Record<string, Sub>).sub!;
    const subLayout = (document: JsonDocument) =>
      (document.layout.subgraphs as Record<string, { nodes: Record<string, Record<string, unknown>> }>).sub!;
    const a = docFromDocument(BASE);
    const b = replica(a);
    const mine = copy(BASE);
    subOf(mine).nodes["1"]!.inputs.x = 5;
    subOf(mine).name = "Renamed inside";
    subLayout(mine).nodes["2"]!.x = 99;
    const theirs = copy(BASE);
    subOf(theirs).nodes["2"]!.inputs.b = "from b";
    subOf(theirs).nodes["3"] = { type: "core.Added", inputs: { c: 1 } };
    subLayout(theirs).nodes["3"] = { x: 1, y: 2 };
    applyChanges(a, BASE, mine);
    applyChanges(b, BASE, theirs);
    Y.applyUpdate(a, Y.encodeStateAsUpdate(b));
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
    const merged = documentFromDoc(a);
    expect(canonical(documentFromDoc(b))).toBe(canonical(merged));
    const sub = subOf(merged);
    expect(sub.name).toBe("Renamed inside");
    expect(sub.nodes["1"]!.inputs.x).toBe(5);
    expect(sub.nodes["2"]!.inputs).toEqual({ a: ["1", 0], b: "from b" });
    expect(sub.nodes["3"]).toEqual({ type: "core.Added", inputs: { c: 1 } });
    expect(subLayout(merged).nodes["2"]).toMatchObject({ x: 99, title: "Other" });
  });

  it("reads a subgraph a draft stored whole (before finer merging), and writes it finer from then on", () => {
    const doc = docFromDocument(BASE);
    const whole = {
      graph: (BASE.graph.subgraphs as Record<string, unknown>).sub,
      layout: (BASE.layout.subgraphs as Record<string, unknown>).sub,
    };
    roots(doc).subgraphs.set("sub", JSON.stringify(whole));
    expect(canonical(documentFromDoc(doc))).toBe(canonical(BASE));
    const after = copy(BASE);
    (after.graph.subgraphs as Record<string, { nodes: JsonDocument["graph"]["nodes"] }>).sub!.nodes["1"]!.inputs.x = 2;
    applyChanges(doc, BASE, after);
    expect(roots(doc).subgraphs.get("sub")).toBeInstanceOf(Y.Map);
    expect(canonical(documentFromDoc(replica(doc)))).toBe(canonical(after));
  });
});
