import { describe, expect, it } from "vitest";
import { flowyardDocument, graphFileKind } from "./open-file";

describe("graphFileKind", () => {
  it("tells Flowyard documents and graphs from ComfyUI files", () => {
    const graph = { nodes: { a: { type: "PrimitiveString", inputs: { value: "x" } } } };
    expect(graphFileKind({ graph, layout: { nodes: {} } })).toBe("flowyard-document");
    expect(graphFileKind(graph)).toBe("flowyard-graph");
    expect(graphFileKind({ nodes: [{ id: 1, type: "KSampler" }], links: [] })).toBe("comfy");
    expect(graphFileKind({ "3": { class_type: "KSampler", inputs: {} } })).toBe("comfy");
    // A ComfyUI API prompt whose node happens to be called "nodes" is not a Flowyard graph.
    expect(graphFileKind({ nodes: { class_type: "KSampler", inputs: {} } })).toBe("comfy");
  });

  it("sends the open endpoint a graph and, when there is one, its layout", () => {
    const graph = { nodes: {} };
    expect(flowyardDocument({ graph })).toEqual({ graph });
    expect(flowyardDocument({ graph, layout: { nodes: {} }, name: "x" })).toEqual({ graph, layout: { nodes: {} } });
    expect(flowyardDocument(graph)).toEqual({ graph });
  });
});
