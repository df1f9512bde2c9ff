import { describe, expect, it } from "vitest";
import { connect } from "./connection-rules";
import { sampleCatalog as catalog, schemaOf } from "./fixtures";
import {
  addNode,
  applySeedControls,
  createNode,
  emptyGraph,
  extractFragment,
  hiddenByChoice,
  insertFragment,
  moveNodes,
  nextNodeId,
  removeEdges,
  removeNodes,
  setInputAsSocket,
  setTitle,
  setWidgetValue,
  toggleMode,
  type EditorGraph,
} from "./graph-model";

function build(...types: string[]): EditorGraph {
  let g = emptyGraph();
  types.forEach((type, i) => {
    g = addNode(g, createNode(schemaOf(type), String(i + 1), { x: i * 100, y: 0 }));
  });
  return g;
}

function link(g: EditorGraph, source: string, out: number, target: string, input: string): EditorGraph {
  const r = connect(g, catalog, { source, sourceOutput: out, target, targetInput: input });
  if (!r.ok) throw new Error(r.reason);
  return r.graph;
}

describe("graph model", () => {
  it("creates nodes with widget defaults and no values for sockets", () => {
    const n = createNode(schemaOf("NoiseImage"), "7", { x: 1, y: 2 });
    expect(n.values).toEqual({ seed: 0, kind: "uniform", note: "", grayscale: false, strength: 0.5, model: "" });
    expect(n.mode).toBe("normal");
    expect(createNode(schemaOf("ImageBlur"), "1", { x: 0, y: 0 }).values).toEqual({ radius: 3 });
  });

  it("numbers new nodes after the highest numeric id", () => {
    const g = build("EmptyImage", "ImageBlur");
    expect(nextNodeId(g)).toBe("3");
    expect(nextNodeId(emptyGraph())).toBe("1");
    expect(nextNodeId(g, ["3", "9"])).toBe("10");
  });

  it("never mutates its input", () => {
    const g = build("EmptyImage");
    const frozen = JSON.stringify(g);
    setWidgetValue(g, "1", "width", 99);
    moveNodes(g, { "1": { x: 5, y: 5 } });
    setTitle(g, "1", "Base");
    toggleMode(g, ["1"], "bypass");
    removeNodes(g, ["1"]);
    expect(JSON.stringify(g)).toBe(frozen);
  });

  it("sets values, titles and moves nodes", () => {
    let g = build("EmptyImage");
    g = setWidgetValue(g, "1", "width", 64);
    g = setTitle(g, "1", "  Canvas ");
    g = moveNodes(g, { "1": { x: 10, y: 20 } });
    expect(g.nodes["1"]).toMatchObject({ values: { width: 64 }, title: "Canvas", position: { x: 10, y: 20 } });
    g = setTitle(g, "1", "");
    expect(g.nodes["1"]!.title).toBeUndefined();
  });

  it("returns the same graph when nothing changes", () => {
    const g = build("EmptyImage");
    expect(setWidgetValue(g, "1", "width", 512)).toBe(g);
    expect(moveNodes(g, { "1": { x: 0, y: 0 } })).toBe(g);
    expect(removeNodes(g, ["nope"])).toBe(g);
  });

  it("toggles bypass and mute on a selection", () => {
    let g = build("EmptyImage", "ImageBlur");
    g = toggleMode(g, ["1", "2"], "bypass");
    expect([g.nodes["1"]!.mode, g.nodes["2"]!.mode]).toEqual(["bypass", "bypass"]);
    g = toggleMode(g, ["1", "2"], "bypass");
    expect([g.nodes["1"]!.mode, g.nodes["2"]!.mode]).toEqual(["normal", "normal"]);
    g = toggleMode(g, ["1"], "mute");
    g = toggleMode(g, ["1", "2"], "mute"); // mixed: all become muted
    expect([g.nodes["1"]!.mode, g.nodes["2"]!.mode]).toEqual(["mute", "mute"]);
  });

  it("removing nodes removes their edges and output entries", () => {
    let g = link(build("EmptyImage", "ImageBlur", "SaveImage"), "1", 0, "2", "image");
    g = link(g, "2", 0, "3", "images");
    g = { ...g, outputs: ["3"] };
    g = removeNodes(g, ["2"]);
    expect(Object.keys(g.nodes)).toEqual(["1", "3"]);
    expect(g.edges).toEqual([]);
    g = removeNodes(g, ["3"]);
    expect(g.outputs).toEqual([]);
  });

  it("converts a widget to a socket and back, dropping the link but keeping the value", () => {
    let g = build("math.Add", "math.Add");
    g = setWidgetValue(g, "2", "a", 4);
    g = setInputAsSocket(g, catalog, "2", "a", true);
    expect(g.nodes["2"]!.sockets).toEqual(["a"]);
    g = link(g, "1", 0, "2", "a");
    expect(g.edges).toHaveLength(1);
    g = setInputAsSocket(g, catalog, "2", "a", false);
    expect(g.nodes["2"]!.sockets).toEqual([]);
    expect(g.edges).toHaveLength(0);
    expect(g.nodes["2"]!.values.a).toBe(4);
    // widget-only and socket-only inputs do not convert
    const h = build("LoadImage", "ImageBlur");
    expect(setInputAsSocket(h, catalog, "1", "image", true)).toBe(h);
    expect(setInputAsSocket(h, catalog, "2", "image", true)).toBe(h);
  });

  it("copies a fragment with fresh ids, internal edges only, at a new place", () => {
    let g = link(build("EmptyImage", "ImageBlur", "SaveImage"), "1", 0, "2", "image");
    g = link(g, "2", 0, "3", "images");
    const fragment = extractFragment(g, ["2", "3"]);
    expect(fragment.edges).toHaveLength(1);
    const { graph, ids } = insertFragment(g, fragment, { at: { x: 1000, y: 500 } });
    expect(ids).toEqual(["4", "5"]);
    expect(graph.nodes["4"]!.position).toEqual({ x: 1000, y: 500 });
    expect(graph.nodes["5"]!.position).toEqual({ x: 1100, y: 500 });
    expect(graph.edges.map((e) => e.id)).toContain("4:0->5:images");
    expect(graph.edges).toHaveLength(3);
  });

  it("removes edges by id", () => {
    const g = link(build("EmptyImage", "ImageBlur"), "1", 0, "2", "image");
    expect(removeEdges(g, [g.edges[0]!.id]).edges).toEqual([]);
  });

  it("applies seed controls after a run", () => {
    let g = build("NoiseImage", "NoiseImage", "NoiseImage", "NoiseImage");
    g = setWidgetValue(g, "2", "seed", 10);
    g = {
      ...g,
      nodes: {
        ...g.nodes,
        "2": { ...g.nodes["2"]!, seedControl: { seed: "increment" } },
        "3": { ...g.nodes["3"]!, seedControl: { seed: "decrement" } },
        "4": { ...g.nodes["4"]!, seedControl: { seed: "fixed" } },
      },
    };
    const next = applySeedControls(g, catalog, () => 0.5);
    expect(next.nodes["1"]!.values.seed).toBe(Math.floor(0.5 * 9007199254740992));
    expect(next.nodes["2"]!.values.seed).toBe(11);
    expect(next.nodes["3"]!.values.seed).toBe(9007199254740991); // wraps below min
    expect(next.nodes["4"]!.values.seed).toBe(0);
  });
});

describe("dynamic combos", () => {
  const schema = {
    inputs: [
      {
        name: "resize_type",
        type: "STRING",
        required: true,
        mode: "both",
        default: "scale dimensions",
        has_default: true,
        tooltip: "",
        widget: {
          kind: "select",
          options: ["scale dimensions", "scale by multiplier"],
          source: null,
          shows: {
            "scale dimensions": ["resize_type.width", "resize_type.height"],
            "scale by multiplier": ["resize_type.multiplier"],
          },
        },
      },
      {
        name: "resize_type.width",
        type: "INT",
        required: true,
        mode: "both",
        default: 512,
        has_default: true,
        tooltip: "",
        widget: null,
      },
      {
        name: "resize_type.height",
        type: "INT",
        required: true,
        mode: "both",
        default: 512,
        has_default: true,
        tooltip: "",
        widget: null,
      },
      {
        name: "resize_type.multiplier",
        type: "FLOAT",
        required: true,
        mode: "both",
        default: 1,
        has_default: true,
        tooltip: "",
        widget: null,
      },
    ],
  } as unknown as Parameters<typeof hiddenByChoice>[0];

  it("hides the inputs of the options that are not chosen", () => {
    expect([...hiddenByChoice(schema, {})]).toEqual(["resize_type.multiplier"]);
    expect([...hiddenByChoice(schema, { resize_type: "scale by multiplier" }).values()].sort()).toEqual([
      "resize_type.height",
      "resize_type.width",
    ]);
  });
});
