// Import warnings mapped from the backend's recorded answer to what the editor shows.
import { describe, expect, it } from "vitest";
import samples from "../packs/__fixtures__/backend-samples.json";
import { comfyImportSchema } from "./comfy-api";
import { exportFileName, parseComfyFile, readImportState, summarizeImport } from "./comfy-import";

const recorded = comfyImportSchema.parse(samples.import_comfy.body);

describe("summarizeImport", () => {
  it("maps the recorded import: a missing node type, a dropped note", () => {
    const s = summarizeImport(recorded, "flow.json");
    expect(s.nodeCount).toBe(4);
    expect(s.missingTypes).toEqual([{ type: "KSamplerAdvancedFancy", nodes: ["3"] }]);
    expect(s.items.map((i) => [i.kind, i.node, i.label])).toEqual([
      ["missing", "3", "KSamplerAdvancedFancy"],
      ["dropped", "4", "node 4"],
    ]);
    expect(s.headline).toBe(
      "Imported 4 nodes from flow.json; 1 of unknown type (KSamplerAdvancedFancy), shown in red; 1 dropped.",
    );
  });

  it("uses layout titles, counts repeated unknown types, adds lines for unwarned missing nodes", () => {
    const result = comfyImportSchema.parse({
      document: {
        graph: {
          nodes: { a: { type: "X", inputs: {} }, b: { type: "X", inputs: {} }, c: { type: "ImageBlur", inputs: {} } },
        },
        layout: { nodes: { c: { x: 0, y: 0, title: "Soft" } }, groups: [] },
      },
      warnings: [
        { node: "c", message: "blur_radius clamped" },
        { node: null, message: "schema 1 links" },
      ],
      missing: { a: { type: "X" }, b: { class_type: "X" } },
    });
    const s = summarizeImport(result, "w.json");
    expect(s.missingTypes).toEqual([{ type: "X", nodes: ["a", "b"] }]);
    expect(s.items.map((i) => `${i.kind}:${i.label}`)).toEqual([
      "missing:X",
      "missing:X",
      "changed:Soft",
      "general:workflow",
    ]);
  });

  it("names nodes inside subgraphs by the subgraph and counts the subgraphs", () => {
    const result = comfyImportSchema.parse({
      document: {
        graph: {
          nodes: { "12": { type: "subgraph:s1", inputs: {} } },
          subgraphs: { s1: { name: "Upscale", inputs: [], outputs: [], nodes: { "7": { type: "Nope", inputs: {} } } } },
        },
        layout: { nodes: {}, groups: [], subgraphs: { s1: { nodes: {}, groups: [] } } },
      },
      warnings: [{ node: "Upscale › 7", message: "Unknown node type 'Nope': kept as a missing node." }],
      missing: { "Upscale › 7": { type: "Nope" } },
    });
    const s = summarizeImport(result, "sub.json");
    expect(s.items.map((i) => `${i.kind}:${i.label}`)).toEqual(["missing:Upscale › 7"]);
    expect(s.missingTypes).toEqual([{ type: "Nope", nodes: ["Upscale › 7"] }]);
    expect(s.headline).toContain("1 subgraph (double-click one to open it)");
  });

  it("a clean import has a short headline", () => {
    const s = summarizeImport(
      { document: { graph: { nodes: { "1": { type: "A", inputs: {} } } } }, warnings: [], missing: {} },
      "a.json",
    );
    expect(s.headline).toBe("Imported 1 node from a.json.");
    expect(s.items).toEqual([]);
  });
});

describe("files and handoff", () => {
  it("explains files that are not workflows", () => {
    expect(() => parseComfyFile("{oops", "x.json")).toThrow(/x.json is not JSON/);
    expect(() => parseComfyFile("[1,2]", "x.json")).toThrow(/expected a JSON object/);
    expect(parseComfyFile('{"nodes": []}', "x.json")).toEqual({ nodes: [] });
  });
  it("reads only a well-formed router state", () => {
    expect(readImportState(null)).toBeNull();
    expect(readImportState({ other: 1 })).toBeNull();
    expect(readImportState({ comfyImport: { key: 1 } })).toBeNull();
    const state = {
      comfyImport: { key: "k", document: recorded.document, summary: summarizeImport(recorded, "f.json") },
    };
    expect(readImportState(state)?.key).toBe("k");
  });
  it("names the exported prompt", () => {
    expect(exportFileName("My flow: v2", 3)).toBe("My_flow_v2-v3.api.json");
    expect(exportFileName("***", null)).toBe("workflow.api.json");
  });
});
