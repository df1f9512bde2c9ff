import { describe, expect, it } from "vitest";
import { publicPagePath } from "../api/workflow-extras-api";
import { diffSummary, relativeTime } from "./diff-summary";
import { parseImportedDocument } from "./editor-panels";
import { schemasFromGraph } from "./document-schemas";

describe("diffSummary", () => {
  it("says what was added, removed and changed", () => {
    expect(
      diffSummary({ added: ["4"], removed: ["1", "2"], changed: [{ node: "3", inputs: ["blur_radius", "sigma"] }], type_changed: [] }),
    ).toEqual(["Added 1 node: #4", "Removed 2 nodes: #1, #2", "Changed inputs of 1 node: #3 (blur_radius, sigma)"]);
  });

  it("shortens long lists and names layout-only versions", () => {
    const added = ["1", "2", "3", "4", "5", "6"];
    expect(diffSummary({ added, removed: [], changed: [], type_changed: [] })[0]).toBe("Added 6 nodes: #1, #2, #3, #4 and 2 more");
    expect(diffSummary({ added: [], removed: [], changed: [], type_changed: [] })).toEqual(["No node changes (layout only)"]);
    expect(diffSummary({ added: [], removed: [], changed: [], type_changed: [{ node: "1", from: "A", to: "B" }] })).toEqual([
      "Changed the type of 1 node",
    ]);
  });
});

describe("relativeTime", () => {
  const now = Date.parse("2026-01-10T12:00:00Z");
  it("reads as a person would say it", () => {
    expect(relativeTime("2026-01-10T11:59:50Z", now)).toBe("just now");
    expect(relativeTime("2026-01-10T11:57:00Z", now)).toBe("3 minutes ago");
    expect(relativeTime("2026-01-10T11:00:00Z", now)).toBe("1 hour ago");
    expect(relativeTime("2026-01-08T12:00:00Z", now)).toBe("2 days ago");
    expect(relativeTime("not a date", now)).toBe("not a date");
  });
});

describe("public links and imports", () => {
  it("maps the API's public URL to the browser page", () => {
    expect(publicPagePath("http://host/api/public/abc123")).toBe("/p/abc123");
    expect(publicPagePath(null)).toBeNull();
  });

  it("imports a document or a bare graph, and refuses anything else", () => {
    const graph = { nodes: { "1": { type: "EmptyImage", inputs: {} } } };
    expect(parseImportedDocument(JSON.stringify({ graph })).graph.nodes["1"]?.type).toBe("EmptyImage");
    expect(parseImportedDocument(JSON.stringify(graph)).graph.nodes["1"]?.type).toBe("EmptyImage");
    expect(() => parseImportedDocument("{")).toThrow(/not JSON/);
    expect(() => parseImportedDocument("[1]")).toThrow(/no Flowyard workflow/);
  });

  it("guesses schemas from a graph for anonymous viewers", () => {
    const schemas = schemasFromGraph({
      nodes: {
        "1": { type: "EmptyImage", inputs: { width: 64 } },
        "2": { type: "ImageBlur", inputs: { image: ["1", 0], blur_radius: 2 } },
      },
    });
    const blur = schemas.find((s) => s.type === "ImageBlur")!;
    expect(blur.display_name).toBe("Image Blur");
    expect(blur.inputs.map((i) => [i.name, i.mode])).toEqual([
      ["image", "socket"],
      ["blur_radius", "both"],
    ]);
    expect(schemas.find((s) => s.type === "EmptyImage")!.outputs).toHaveLength(1);
  });
});
