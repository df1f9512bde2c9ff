import { describe, expect, it } from "vitest";
import { emptyGraph, type EditorGraph } from "./graph-model";
import {
  addGroup,
  GROUP_PADDING,
  GROUP_TITLE_HEIGHT,
  groupAround,
  moveGroup,
  nodesInGroup,
  removeGroup,
  renameGroup,
} from "./groups";

function graphWith(positions: Record<string, [number, number]>): EditorGraph {
  const g = emptyGraph();
  for (const [id, [x, y]] of Object.entries(positions)) {
    g.nodes[id] = { id, type: "T", position: { x, y }, values: {}, sockets: [], mode: "normal" };
  }
  return g;
}

describe("groups", () => {
  const sizes = { a: { width: 200, height: 100 }, b: { width: 200, height: 100 }, c: { width: 200, height: 100 } };

  it("frames the selection with padding and room for the title", () => {
    const g = graphWith({ a: [0, 0], b: [300, 50], c: [1000, 1000] });
    const group = groupAround(g, ["a", "b"], sizes, "Inputs")!;
    expect(group).toEqual({
      id: "g1",
      title: "Inputs",
      x: -GROUP_PADDING,
      y: -GROUP_PADDING - GROUP_TITLE_HEIGHT,
      width: 500 + 2 * GROUP_PADDING,
      height: 150 + 2 * GROUP_PADDING + GROUP_TITLE_HEIGHT,
    });
    expect(groupAround(g, [], sizes)).toBeNull();
    expect(nodesInGroup(g, group, sizes)).toEqual(["a", "b"]);
  });

  it("moves its nodes with it, and only them", () => {
    let g = graphWith({ a: [0, 0], b: [300, 50], c: [1000, 1000] });
    const group = groupAround(g, ["a", "b"], sizes)!;
    g = addGroup(g, group);
    const moved = moveGroup(g, group.id, { x: group.x + 100, y: group.y - 20 }, nodesInGroup(g, group, sizes));
    expect(moved.nodes.a!.position).toEqual({ x: 100, y: -20 });
    expect(moved.nodes.b!.position).toEqual({ x: 400, y: 30 });
    expect(moved.nodes.c!.position).toEqual({ x: 1000, y: 1000 });
    expect(moved.groups[0]!.x).toBe(group.x + 100);
    expect(moveGroup(g, group.id, { x: group.x, y: group.y }, ["a"])).toBe(g);
  });

  it("renames (ignoring blank titles), removes the frame only, and numbers ids uniquely", () => {
    let g = graphWith({ a: [0, 0] });
    g = addGroup(g, groupAround(g, ["a"], sizes)!);
    g = addGroup(g, groupAround(g, ["a"], sizes)!);
    expect(g.groups.map((x) => x.id)).toEqual(["g1", "g2"]);
    expect(renameGroup(g, "g1", "Loader").groups[0]!.title).toBe("Loader");
    expect(renameGroup(g, "g1", "  ").groups[0]!.title).toBe("Group");
    const removed = removeGroup(g, "g1");
    expect(removed.groups.map((x) => x.id)).toEqual(["g2"]);
    expect(Object.keys(removed.nodes)).toEqual(["a"]);
  });
});
