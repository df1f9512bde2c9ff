import { describe, expect, it } from "vitest";
import { sampleSchemas } from "./fixtures";
import { GROUP_NODE_PREFIX, type AppNode } from "./flow-types";
import {
  estimateFitViewport,
  linkedInputsOf,
  moveGroupMembers,
  nodeChangeEffects,
  syncFlowEdges,
  syncFlowNodes,
} from "./flow-sync";
import {
  addNode,
  createNode,
  emptyGraph,
  makeCatalog,
  moveNodes,
  setWidgetValue,
  type EditorGraph,
} from "./graph-model";

const catalog = makeCatalog(sampleSchemas);
const schema = (type: string) => sampleSchemas.find((s) => s.type === type)!;

function graphOf(n: number): EditorGraph {
  let g = emptyGraph();
  for (let i = 1; i <= n; i++) g = addNode(g, createNode(schema("NoiseImage"), String(i), { x: i * 10, y: 0 }));
  return g;
}

describe("syncFlowNodes", () => {
  it("keeps every object (and the array) when nothing React Flow shows changed", () => {
    const g = graphOf(3);
    const first = syncFlowNodes([], g, catalog, new Set(), false);
    const widgetName = schema("NoiseImage").inputs.find((i) => i.widget)!.name;
    const edited = setWidgetValue(g, "2", widgetName, 7);
    expect(syncFlowNodes(first, edited, catalog, new Set(), false)).toBe(first);
  });

  it("replaces only the node that moved or whose selection changed, keeping its measured size", () => {
    const g = graphOf(3);
    const first = syncFlowNodes([], g, catalog, new Set(), false).map(
      (n) => ({ ...n, measured: { width: 200, height: 90 } }) as AppNode,
    );
    const next = syncFlowNodes(first, moveNodes(g, { "2": { x: 99, y: 1 } }), catalog, new Set(["3"]), false);
    expect(next[0]).toBe(first[0]);
    expect(next[1]).not.toBe(first[1]);
    expect(next[1]!.position).toEqual({ x: 99, y: 1 });
    expect(next[1]!.measured).toEqual({ width: 200, height: 90 });
    expect(next[2]!.selected).toBe(true);
  });

  it("leaves a node React Flow is dragging where React Flow put it", () => {
    const g = graphOf(1);
    const [n] = syncFlowNodes([], g, catalog, new Set(), false);
    const dragging = { ...n!, position: { x: 500, y: 500 }, dragging: true } as AppNode;
    const next = syncFlowNodes([dragging], g, catalog, new Set(), false);
    expect(next[0]!.position).toEqual({ x: 500, y: 500 });
  });

  it("puts group frames first and marks types that are not installed as missing", () => {
    let g = addNode(graphOf(1), createNode({ ...schema("NoiseImage"), type: "Gone" }, "9", { x: 0, y: 0 }));
    g = { ...g, groups: [{ id: "g1", title: "G", x: 0, y: 0, width: 100, height: 80 }] };
    const nodes = syncFlowNodes([], g, catalog, new Set(), true);
    expect(nodes.map((n) => [n.id, n.type])).toEqual([
      [GROUP_NODE_PREFIX + "g1", "flowgroup"],
      ["1", "schema"],
      ["9", "missing"],
    ]);
    expect(nodes[0]!.draggable).toBe(false);
  });
});

describe("syncFlowEdges and linked inputs", () => {
  const base = graphOf(2);
  const linked: EditorGraph = {
    ...base,
    edges: [{ id: "e1", source: "1", sourceOutput: 0, target: "2", targetInput: "image" }],
  };

  it("keeps unchanged edges and updates selection", () => {
    const first = syncFlowEdges([], linked, catalog, new Set());
    expect(syncFlowEdges(first, { ...linked, edges: [...linked.edges] }, catalog, new Set())).toBe(first);
    const selected = syncFlowEdges(first, linked, catalog, new Set(["e1"]));
    expect(selected[0]!.selected).toBe(true);
  });

  it("indexes linked inputs per node", () => {
    expect(linkedInputsOf(linked.edges, "2")).toEqual(["image"]);
    expect(linkedInputsOf(linked.edges, "1")).toEqual([]);
  });
});

describe("nodeChangeEffects", () => {
  it("commits positions only when a drag ends and batches measurements and selection", () => {
    const fx = nodeChangeEffects(
      [
        { type: "position", id: "1", position: { x: 1, y: 1 }, dragging: true },
        { type: "position", id: "2", position: { x: 2, y: 2 }, dragging: false },
        { type: "position", id: GROUP_NODE_PREFIX + "g1", position: { x: 3, y: 3 }, dragging: false },
        { type: "dimensions", id: "1", dimensions: { width: 10, height: 20 } },
        { type: "select", id: "1", selected: true },
      ],
      ["2"],
    );
    expect(fx.committed).toEqual({ "2": { x: 2, y: 2 } });
    expect(fx.groupsMoved).toEqual({ g1: { x: 3, y: 3 } });
    expect(fx.measured).toEqual({ "1": { width: 10, height: 20 } });
    expect(fx.selection?.sort()).toEqual(["1", "2"]);
    expect(nodeChangeEffects([{ type: "select", id: "2", selected: true }], ["2"]).selection).toBeNull();
  });

  it("moves group members by the group's offset, keeping untouched nodes", () => {
    const nodes = syncFlowNodes([], graphOf(2), catalog, new Set(), false);
    const moved = moveGroupMembers(nodes, new Map([["1", { x: 10, y: 0 }]]), { x: 5, y: 5 });
    expect(moved[0]!.position).toEqual({ x: 15, y: 5 });
    expect(moved[1]).toBe(nodes[1]);
  });
});

describe("estimateFitViewport", () => {
  it("zooms out to fit a wide graph and never zooms in past 1", () => {
    let g = emptyGraph();
    for (let i = 0; i < 20; i++) g = addNode(g, createNode(schema("NoiseImage"), String(i + 1), { x: i * 300, y: 0 }));
    const wide = estimateFitViewport(g, 1400, 900)!;
    expect(wide.zoom).toBeLessThan(0.5);
    expect(estimateFitViewport(graphOf(1), 1400, 900)!.zoom).toBe(1);
    expect(estimateFitViewport(emptyGraph(), 1400, 900)).toBeNull();
  });
});
