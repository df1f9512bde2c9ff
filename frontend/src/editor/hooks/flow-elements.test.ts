import { describe, expect, it } from "vitest";
import { sampleSchemas } from "../fixtures";
import { GROUP_NODE_PREFIX } from "../flow-types";
import { addNode, createNode, emptyGraph } from "../graph-model";
import { addGroup } from "../groups";
import { edgeSelectionAfter, groupDragFor } from "./use-flow-elements";

describe("React Flow's changes as editor actions", () => {
  it("adds and removes edges from the selection as React Flow selects and deselects them", () => {
    const next = edgeSelectionAfter(
      [
        { type: "select", id: "e2", selected: true },
        { type: "select", id: "e1", selected: false },
      ],
      ["e1", "e3"],
    );
    expect(next?.sort()).toEqual(["e2", "e3"]);
  });

  it("leaves the edge selection alone when no change selects an edge", () => {
    expect(edgeSelectionAfter([{ type: "remove", id: "e1" }], ["e1"])).toBeNull();
    expect(edgeSelectionAfter([], [])).toBeNull();
  });

  it("remembers where a dragged group and the nodes inside it started", () => {
    const schema = sampleSchemas.find((s) => s.type === "ImageBlur")!;
    let graph = emptyGraph();
    graph = addNode(graph, createNode(schema, "in", { x: 120, y: 80 }));
    graph = addNode(graph, createNode(schema, "out", { x: 2000, y: 2000 }));
    graph = addGroup(graph, { id: "g1", title: "Group", x: 50, y: 20, width: 500, height: 400 });
    const drag = groupDragFor({ graph, measured: {} }, GROUP_NODE_PREFIX + "g1");
    expect(drag?.groupId).toBe("g1");
    expect(drag?.start).toEqual({ x: 50, y: 20 });
    expect([...drag!.members.entries()]).toEqual([["in", { x: 120, y: 80 }]]);
  });

  it("starts no group drag for a group that is gone", () => {
    expect(groupDragFor({ graph: emptyGraph(), measured: {} }, GROUP_NODE_PREFIX + "g9")).toBeNull();
  });
});
