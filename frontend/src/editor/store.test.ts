import { describe, expect, it } from "vitest";
import { sampleSchemas } from "./fixtures";
import { COALESCE_MS, createEditorStore, HISTORY_LIMIT } from "./store";

function setup() {
  let t = 0;
  const clock = { advance: (ms: number) => (t += ms) };
  const store = createEditorStore({ schemas: sampleSchemas, now: () => t });
  return { store, s: () => store.getState(), clock };
}

describe("editor store", () => {
  it("undoes and redoes edits one step at a time", () => {
    const { s } = setup();
    const a = s().addNode("EmptyImage", { x: 0, y: 0 })!;
    const b = s().addNode("ImageBlur", { x: 300, y: 0 })!;
    expect(s().connect({ source: a, sourceOutput: 0, target: b, targetInput: "image" }).ok).toBe(true);
    expect(s().graph.edges).toHaveLength(1);
    s().undo();
    expect(s().graph.edges).toHaveLength(0);
    s().undo();
    expect(Object.keys(s().graph.nodes)).toEqual([a]);
    s().redo();
    s().redo();
    expect(s().graph.edges).toHaveLength(1);
    expect(s().canRedo()).toBe(false);
  });

  it("a new edit clears the redo stack", () => {
    const { s } = setup();
    s().addNode("EmptyImage", { x: 0, y: 0 });
    s().undo();
    expect(s().canRedo()).toBe(true);
    s().addNode("ImageBlur", { x: 0, y: 0 });
    expect(s().canRedo()).toBe(false);
  });

  it("merges quick edits of the same widget into one step", () => {
    const { s, clock } = setup();
    const id = s().addNode("SaveImage", { x: 0, y: 0 })!;
    for (const text of ["a", "ab", "abc"]) {
      clock.advance(100);
      s().setWidgetValue(id, "filename_prefix", text);
    }
    clock.advance(COALESCE_MS + 1);
    s().setWidgetValue(id, "filename_prefix", "abcd");
    s().undo();
    expect(s().graph.nodes[id]!.values.filename_prefix).toBe("abc");
    s().undo();
    expect(s().graph.nodes[id]!.values.filename_prefix).toBe("flowyard");
  });

  it("records a drag as one step through a checkpoint", () => {
    const { s } = setup();
    const id = s().addNode("EmptyImage", { x: 0, y: 0 })!;
    s().checkpoint();
    for (let i = 1; i <= 5; i++) s().moveNodes({ [id]: { x: i * 10, y: 0 } });
    expect(s().graph.nodes[id]!.position.x).toBe(50);
    s().undo();
    expect(s().graph.nodes[id]!.position.x).toBe(0);
    // a checkpoint with no movement (a click) does not cost an extra undo
    s().redo();
    s().checkpoint();
    s().undo();
    expect(s().graph.nodes[id]!.position.x).toBe(0);
  });

  it("caps the history", () => {
    const { s } = setup();
    const id = s().addNode("EmptyImage", { x: 0, y: 0 })!;
    for (let i = 0; i < HISTORY_LIMIT + 20; i++) s().moveNodes({ [id]: { x: i + 1, y: 0 } }, true);
    expect(s().past.length).toBe(HISTORY_LIMIT);
  });

  it("shows the reason when a link is refused and leaves the graph alone", () => {
    const { s } = setup();
    const a = s().addNode("LoadImage", { x: 0, y: 0 })!;
    const b = s().addNode("ImageBlur", { x: 0, y: 0 })!;
    const before = s().graph;
    const result = s().connect({ source: a, sourceOutput: 1, target: b, targetInput: "image" });
    expect(result.ok).toBe(false);
    expect(s().graph).toBe(before);
    expect(s().notice?.kind).toBe("error");
    expect(s().notice?.text).toMatch(/MASK/);
  });

  it("copies, pastes and duplicates the selection with fresh ids and internal links", () => {
    const { s } = setup();
    const a = s().addNode("EmptyImage", { x: 0, y: 0 })!;
    const b = s().addNode("ImageBlur", { x: 300, y: 0 })!;
    s().connect({ source: a, sourceOutput: 0, target: b, targetInput: "image" });
    s().select([a, b]);
    const text = s().copySelection()!;
    // another tab: a fresh store pastes the clipboard text
    const other = createEditorStore({ schemas: sampleSchemas });
    expect(other.getState().paste(text, { x: 500, y: 500 })).toBe(true);
    expect(Object.keys(other.getState().graph.nodes)).toEqual(["1", "2"]);
    expect(other.getState().graph.edges).toHaveLength(1);
    expect(other.getState().graph.nodes["1"]!.position).toEqual({ x: 500, y: 500 });
    expect(other.getState().paste("not nodes")).toBe(false);
    s().duplicateSelection();
    expect(Object.keys(s().graph.nodes)).toEqual(["1", "2", "3", "4"]);
    expect(s().selectedNodes).toEqual(["3", "4"]);
    expect(s().graph.edges).toHaveLength(2);
  });

  it("deletes the selected nodes and edges, bypasses and mutes the selection", () => {
    const { s } = setup();
    const a = s().addNode("EmptyImage", { x: 0, y: 0 })!;
    const b = s().addNode("ImageBlur", { x: 0, y: 0 })!;
    s().connect({ source: a, sourceOutput: 0, target: b, targetInput: "image" });
    s().select([b]);
    s().toggleMode("bypass");
    expect(s().graph.nodes[b]!.mode).toBe("bypass");
    s().toggleMode("mute");
    expect(s().graph.nodes[b]!.mode).toBe("mute");
    s().select([], [s().graph.edges[0]!.id]);
    s().deleteSelection();
    expect(s().graph.edges).toHaveLength(0);
    s().select([a]);
    s().deleteSelection();
    expect(Object.keys(s().graph.nodes)).toEqual([b]);
  });

  it("tracks unsaved changes against the loaded or saved graph", () => {
    const { s } = setup();
    expect(s().isDirty()).toBe(false);
    s().addNode("EmptyImage", { x: 0, y: 0 });
    expect(s().isDirty()).toBe(true);
    s().markSaved();
    expect(s().isDirty()).toBe(false);
    s().undo();
    expect(s().isDirty()).toBe(true);
  });

  it("refuses node types missing from the catalog", () => {
    const { s } = setup();
    expect(s().addNode("Nope", { x: 0, y: 0 })).toBeNull();
    expect(s().notice?.text).toMatch(/Nope/);
  });
});
