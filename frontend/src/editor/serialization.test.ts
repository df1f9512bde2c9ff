import { describe, expect, it } from "vitest";
import { workflowDocumentSchema, type WorkflowDocument } from "../api/schemas";
import { connect } from "./connection-rules";
import { sampleCatalog as catalog, schemaOf } from "./fixtures";
import {
  addNode,
  createNode,
  emptyGraph,
  setInputAsSocket,
  setTitle,
  setWidgetValue,
  toggleMode,
  type EditorGraph,
} from "./graph-model";
import { decodeConstant, encodeConstant, exportGraphForRun, fromDocument, toDocument } from "./serialization";

function build(...types: string[]): EditorGraph {
  let g = emptyGraph();
  types.forEach((type, i) => {
    g = addNode(g, createNode(schemaOf(type), String(i + 1), { x: i * 300, y: 40 }));
  });
  return g;
}

function link(g: EditorGraph, source: string, out: number, target: string, input: string): EditorGraph {
  const r = connect(g, catalog, { source, sourceOutput: out, target, targetInput: input });
  if (!r.ok) throw new Error(r.reason);
  return r.graph;
}

describe("serialization", () => {
  it("writes the graph JSON the engine reads and the layout the API stores", () => {
    let g = link(build("EmptyImage", "ImageBlur", "SaveImage"), "1", 0, "2", "image");
    g = link(g, "2", 0, "3", "images");
    g = setWidgetValue(g, "1", "width", 64);
    g = setTitle(g, "2", "Soften");
    g = toggleMode(g, ["3"], "mute");
    const doc = toDocument(g, catalog);
    expect(doc.graph).toEqual({
      nodes: {
        "1": { type: "EmptyImage", inputs: { width: 64, height: 512, color: "#000000" } },
        "2": { type: "ImageBlur", inputs: { image: ["1", 0], radius: 3 } },
        "3": { type: "SaveImage", inputs: { images: ["2", 0], filename_prefix: "flowyard" } },
      },
    });
    expect(doc.layout.nodes).toEqual({
      "1": { x: 0, y: 40 },
      "2": { x: 300, y: 40, title: "Soften" },
      "3": { x: 600, y: 40, mode: "mute" },
    });
    expect(doc.layout.groups).toEqual([]);
    expect(workflowDocumentSchema.safeParse(doc).success).toBe(true);
  });

  it("round-trips editor state through a document", () => {
    let g = link(build("EmptyImage", "math.Add", "math.Add", "NoiseImage", "ImageBlur"), "2", 0, "3", "b");
    g = link(g, "4", 0, "5", "image");
    g = setInputAsSocket(g, catalog, "5", "radius", false);
    g = setWidgetValue(g, "4", "note", "line one\nline two");
    g = toggleMode(g, ["4"], "bypass");
    g = { ...g, viewport: { x: 10, y: -20, zoom: 0.75 }, outputs: ["5"] };
    g = { ...g, groups: [{ id: "g1", title: "Inputs", x: 0, y: 0, width: 400, height: 300, color: "#335" }] };
    const doc = toDocument(g, catalog);
    const json = JSON.parse(JSON.stringify(doc)) as WorkflowDocument;
    const back = fromDocument(workflowDocumentSchema.parse(json), catalog);
    expect(back).toEqual(g);
    expect(toDocument(back, catalog)).toEqual(doc);
  });

  it("wraps constants that look like links", () => {
    expect(encodeConstant(["a", 1])).toEqual({ __value__: ["a", 1] });
    expect(encodeConstant(["a", "b"])).toEqual(["a", "b"]);
    expect(decodeConstant({ __value__: ["a", 1] })).toEqual(["a", 1]);
    expect(decodeConstant({ __value__: 1, x: 2 })).toEqual({ __value__: 1, x: 2 });
    let g = build("PreviewAny");
    g = setWidgetValue(g, "1", "value", ["x", 0]);
    const doc = toDocument(g, catalog);
    expect(doc.graph.nodes["1"]!.inputs).toEqual({ value: { __value__: ["x", 0] } });
    const back = fromDocument(doc, catalog);
    expect(back.nodes["1"]!.values.value).toEqual(["x", 0]);
    expect(back.edges).toEqual([]);
  });

  it("keeps nodes of unknown types as loaded", () => {
    const doc: WorkflowDocument = {
      graph: {
        nodes: {
          "1": { type: "EmptyImage", inputs: { width: 8, height: 8, color: "#ffffff" } },
          "2": { type: "some.pack.Missing", inputs: { image: ["1", 0], strength: 2, weird: { __value__: ["q", 3] } } },
        },
      },
      layout: { nodes: { "1": { x: 0, y: 0 }, "2": { x: 5, y: 5 } }, groups: [] },
    };
    const g = fromDocument(doc, catalog);
    expect(g.edges).toHaveLength(1);
    expect(toDocument(g, catalog).graph).toEqual(doc.graph);
  });

  it("fills defaults and places nodes that the layout omits", () => {
    const g = fromDocument({ graph: { nodes: { "4": { type: "ImageBlur", inputs: {} } } } }, catalog);
    expect(g.nodes["4"]!.values).toEqual({ radius: 3 });
    expect(g.nodes["4"]!.position).toEqual({ x: 0, y: 0 });
  });

  it("marks linked widget inputs as sockets on load", () => {
    const g = fromDocument(
      {
        graph: { nodes: { "1": { type: "math.Add", inputs: {} }, "2": { type: "math.Add", inputs: { a: ["1", 0] } } } },
      },
      catalog,
    );
    expect(g.nodes["2"]!.sockets).toEqual(["a"]);
    expect(g.nodes["2"]!.values.a).toBe(0); // the widget value is kept for converting back
  });
});

describe("export for running", () => {
  it("drops muted nodes and the links from them", () => {
    let g = link(build("EmptyImage", "ImageBlur", "SaveImage"), "1", 0, "2", "image");
    g = link(g, "2", 0, "3", "images");
    g = toggleMode(g, ["2"], "mute");
    g = { ...g, outputs: ["2", "3"] };
    const out = exportGraphForRun(g, catalog);
    expect(Object.keys(out.nodes)).toEqual(["1", "3"]);
    expect(out.nodes["3"]!.inputs).toEqual({ filename_prefix: "flowyard" });
    expect(out.outputs).toEqual(["3"]);
  });

  it("rewires a bypassed node: its output is fed by its first input of a compatible type", () => {
    // LoadImage(image, mask) -> CompositeMasked(mask, destination, source) [bypassed] -> SaveImage
    let g = build("LoadImage", "EmptyImage", "CompositeMasked", "SaveImage");
    g = link(g, "1", 1, "3", "mask"); // MASK: not compatible with the IMAGE output, skipped
    g = link(g, "2", 0, "3", "destination"); // first IMAGE input: feeds the output
    g = link(g, "1", 0, "3", "source");
    g = link(g, "3", 0, "4", "images");
    g = toggleMode(g, ["3"], "bypass");
    const out = exportGraphForRun(g, catalog);
    expect(out.nodes["3"]).toBeUndefined();
    expect(out.nodes["4"]!.inputs.images).toEqual(["2", 0]);
  });

  it("follows chains of bypassed nodes and drops a link with nothing compatible to pass", () => {
    let g = build("EmptyImage", "ImageBlur", "ImageInvert", "SaveImage", "MaskToImage", "SaveImage");
    g = link(g, "1", 0, "2", "image");
    g = link(g, "2", 0, "3", "image");
    g = link(g, "3", 0, "4", "images");
    g = link(g, "5", 0, "6", "images"); // MaskToImage has no link on its MASK input
    g = toggleMode(g, ["2", "3", "5"], "bypass");
    const out = exportGraphForRun(g, catalog);
    expect(out.nodes["4"]!.inputs.images).toEqual(["1", 0]);
    expect(out.nodes["6"]!.inputs).toEqual({ filename_prefix: "flowyard" });
    expect(Object.keys(out.nodes).sort()).toEqual(["1", "4", "6"]);
  });

  it("a bypassed node whose input comes from a muted node passes nothing", () => {
    let g = link(build("EmptyImage", "ImageBlur", "SaveImage"), "1", 0, "2", "image");
    g = link(g, "2", 0, "3", "images");
    g = toggleMode(g, ["1"], "mute");
    g = toggleMode(g, ["2"], "bypass");
    expect(exportGraphForRun(g, catalog).nodes).toEqual({
      "3": { type: "SaveImage", inputs: { filename_prefix: "flowyard" } },
    });
  });

  it("leaves the saved document's bypass/mute in the layout, not the graph", () => {
    let g = build("EmptyImage");
    g = toggleMode(g, ["1"], "bypass");
    const doc = toDocument(g, catalog);
    expect(doc.graph.nodes["1"]).toEqual({ type: "EmptyImage", inputs: { width: 512, height: 512, color: "#000000" } });
    expect(doc.layout.nodes["1"]!.mode).toBe("bypass");
  });
});
