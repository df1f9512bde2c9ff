import { describe, expect, it } from "vitest";
import {
  addNote,
  addReroute,
  liveReroutes,
  moveCanvasItems,
  removeReroute,
  routedEdges,
  setNoteText,
} from "./canvas-items";
import { sampleSchemas } from "./fixtures";
import { addNode, createNode, emptyGraph, makeCatalog, makeEdge, removeEdges } from "./graph-model";
import { fromDocument, toDocument } from "./serialization";

const catalog = makeCatalog(sampleSchemas);

function twoNodes() {
  let graph = addNode(emptyGraph(), createNode(catalog.get("EmptyImage")!, "1", { x: 0, y: 0 }));
  graph = addNode(graph, createNode(catalog.get("ImageBlur")!, "2", { x: 400, y: 0 }));
  return { ...graph, edges: [makeEdge("1", 0, "2", "image")] };
}

describe("notes and reroutes", () => {
  it("routes a link through a reroute once, and forgets links that are gone", () => {
    const base = twoNodes();
    const added = addReroute(base, base.edges[0]!.id, { x: 200, y: 10 })!;
    expect(routedEdges(added.graph).get(base.edges[0]!.id)?.id).toBe(added.id);
    expect(addReroute(added.graph, base.edges[0]!.id, { x: 0, y: 0 })).toBeNull();
    const unlinked = removeEdges(added.graph, [base.edges[0]!.id]);
    expect(routedEdges(unlinked).size).toBe(0);
    expect(liveReroutes(unlinked)).toEqual([]);
    expect(removeReroute(added.graph, added.id).reroutes).toEqual([]);
  });

  it("moves and edits them as undoable graph changes", () => {
    const { graph, id } = addNote(twoNodes(), { x: 1, y: 2 }, "hi");
    const moved = moveCanvasItems(graph, { [`note:${id}`]: { x: 50.4, y: 60.6 } });
    expect(moved.notes![0]).toMatchObject({ x: 50, y: 61, text: "hi" });
    expect(setNoteText(moved, id, "hi")).toBe(moved);
    expect(setNoteText(moved, id, "bye").notes![0]!.text).toBe("bye");
  });

  it("are saved in the layout and loaded back, the graph unchanged", () => {
    const base = twoNodes();
    let graph = addReroute(base, base.edges[0]!.id, { x: 200, y: 10 })!.graph;
    graph = addNote(graph, { x: 0, y: 200 }, "**why**").graph;
    const doc = toDocument(graph, catalog);
    expect(doc.layout.notes).toEqual([{ id: "n1", x: 0, y: 200, width: 260, text: "**why**", markdown: true }]);
    expect(doc.layout.reroutes).toEqual([
      { id: "r1", x: 200, y: 10, source: "1", output: 0, targets: [["2", "image"]] },
    ]);
    expect(doc.graph).toEqual(toDocument(base, catalog).graph);
    const back = fromDocument(doc, catalog);
    expect(back.notes).toEqual(graph.notes);
    expect(back.reroutes).toEqual(graph.reroutes);
  });
});
