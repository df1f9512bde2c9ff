import { describe, expect, it } from "vitest";
import { checkConnection, compatibleNodeTypes, connect, wouldCreateCycle } from "./connection-rules";
import { sampleCatalog as catalog, schemaOf } from "./fixtures";
import { addNode, createNode, emptyGraph, type EditorGraph } from "./graph-model";

function build(...types: string[]): EditorGraph {
  let g = emptyGraph();
  types.forEach((type, i) => {
    g = addNode(g, createNode(schemaOf(type), String(i + 1), { x: 0, y: 0 }));
  });
  return g;
}

function link(g: EditorGraph, source: string, out: number, target: string, input: string): EditorGraph {
  const r = connect(g, catalog, { source, sourceOutput: out, target, targetInput: input });
  if (!r.ok) throw new Error(r.reason);
  return r.graph;
}

function reason(g: EditorGraph, source: string, out: number, target: string, input: string): string {
  const v = checkConnection(g, catalog, { source, sourceOutput: out, target, targetInput: input });
  return v.ok ? "ok" : v.reason;
}

describe("connection rules", () => {
  it("accepts compatible types and refuses others with the types in the reason", () => {
    const g = build("LoadImage", "ImageBlur", "MaskToImage", "PreviewAny", "math.Add", "BatchImages");
    expect(reason(g, "1", 0, "2", "image")).toBe("ok"); // IMAGE -> IMAGE
    expect(reason(g, "1", 1, "3", "mask")).toBe("ok"); // MASK -> MASK
    expect(reason(g, "1", 1, "2", "image")).toMatch(/Type mismatch.*MASK.*IMAGE/);
    expect(reason(g, "1", 0, "4", "value")).toBe("ok"); // anything -> ANY
    expect(reason(g, "5", 0, "5", "a")).toMatch(/itself/);
    expect(reason(g, "1", 0, "6", "images")).toMatch(/IMAGE.*LIST\[IMAGE\]/);
  });

  it("accepts a FLOAT output on a FLOAT|INT input (union rule)", () => {
    const g = build("math.Add", "math.Add");
    expect(reason(g, "1", 0, "2", "a")).toBe("ok");
  });

  it("refuses widget-only inputs", () => {
    const g = build("EmptyImage", "LoadImage");
    // LoadImage.image is widget-only (an upload)
    expect(reason(g, "1", 0, "2", "image")).toMatch(/widget only/);
  });

  it("refuses unknown nodes, outputs and inputs", () => {
    const g = build("EmptyImage", "ImageBlur");
    expect(reason(g, "1", 3, "2", "image")).toMatch(/no output #4/);
    expect(reason(g, "1", 0, "2", "nope")).toMatch(/no input "nope"/);
    expect(reason(g, "9", 0, "2", "image")).toMatch(/no longer exists/);
    const missing = { ...g, nodes: { ...g.nodes, "3": { ...g.nodes["1"]!, id: "3", type: "Gone" } } };
    expect(reason(missing, "3", 0, "2", "image")).toMatch(/not installed/);
  });

  it("keeps one link per input: a new link replaces the old one", () => {
    let g = build("EmptyImage", "EmptyImage", "ImageBlur");
    g = link(g, "1", 0, "3", "image");
    const r = connect(g, catalog, { source: "2", sourceOutput: 0, target: "3", targetInput: "image" });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.replaced?.source).toBe("1");
    expect(r.graph.edges.map((e) => e.source)).toEqual(["2"]);
  });

  it("allows many links from one output", () => {
    let g = build("EmptyImage", "ImageBlur", "ImageInvert", "SaveImage");
    g = link(g, "1", 0, "2", "image");
    g = link(g, "1", 0, "3", "image");
    g = link(g, "1", 0, "4", "images");
    expect(g.edges).toHaveLength(3);
  });

  it("linking a widget input converts it to a socket", () => {
    let g = build("math.Add", "math.Add");
    g = link(g, "1", 0, "2", "b");
    expect(g.nodes["2"]!.sockets).toEqual(["b"]);
  });

  it("linking the same link again changes nothing", () => {
    const g = link(build("EmptyImage", "ImageBlur"), "1", 0, "2", "image");
    const r = connect(g, catalog, { source: "1", sourceOutput: 0, target: "2", targetInput: "image" });
    expect(r.ok && r.graph).toBe(g);
  });

  it("refuses cycles, direct and indirect", () => {
    let g = build("ImageBlur", "ImageInvert", "ImageBlur");
    g = link(g, "1", 0, "2", "image");
    g = link(g, "2", 0, "3", "image");
    expect(wouldCreateCycle(g, "3", "1")).toBe(true);
    expect(wouldCreateCycle(g, "2", "1")).toBe(true);
    expect(wouldCreateCycle(g, "1", "3")).toBe(false);
    expect(reason(g, "3", 0, "1", "image")).toMatch(/loop: Blur already feeds Blur/);
    expect(reason(g, "2", 0, "1", "image")).toMatch(/loop/);
  });

  it("lists node types compatible with a dragged link", () => {
    const fromImage = compatibleNodeTypes(catalog, { kind: "output", type: "IMAGE" }).map((m) => [
      m.schema.type,
      m.slot,
    ]);
    expect(fromImage).toContainEqual(["ImageBlur", "image"]);
    expect(fromImage).toContainEqual(["CompositeMasked", "destination"]);
    expect(fromImage).toContainEqual(["PreviewAny", "value"]);
    expect(fromImage.map((m) => m[0])).not.toContain("MaskToImage");
    expect(fromImage.map((m) => m[0])).not.toContain("LoadImage");
    const intoMask = compatibleNodeTypes(catalog, { kind: "input", type: "MASK" }).map((m) => [m.schema.type, m.slot]);
    expect(intoMask).toEqual([["LoadImage", 1]]);
  });
});
