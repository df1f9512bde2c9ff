import { describe, expect, it } from "vitest";
import { publicPagePath } from "../api/workflow-extras-api";
import { diffSummary, nodeNamer, relativeTime, runSubject } from "./diff-summary";
import { parseImportedDocument } from "./editor-panels";
import { schemasFromGraph } from "./document-schemas";

describe("diffSummary", () => {
  it("says what was added, removed and changed", () => {
    expect(
      diffSummary({
        added: ["4"],
        removed: ["1", "2"],
        changed: [{ node: "3", inputs: ["blur_radius", "sigma"] }],
        type_changed: [],
      }),
    ).toEqual(["Added 1 node: #4", "Removed 2 nodes: #1, #2", "Changed inputs of 1 node: #3 (blur_radius, sigma)"]);
  });

  it("shortens long lists and names layout-only versions", () => {
    const added = ["1", "2", "3", "4", "5", "6"];
    expect(diffSummary({ added, removed: [], changed: [], type_changed: [] })[0]).toBe(
      "Added 6 nodes: #1, #2, #3, #4 and 2 more",
    );
    expect(diffSummary({ added: [], removed: [], changed: [], type_changed: [] })).toEqual([
      "No node changes (layout only)",
    ]);
    expect(
      diffSummary({ added: [], removed: [], changed: [], type_changed: [{ node: "1", from: "A", to: "B" }] }),
    ).toEqual(["Changed the type of 1 node: #1"]);
  });
});

describe("diffSummary with node names", () => {
  const before = {
    graph: { nodes: { "1": { type: "LoadImage", inputs: {} }, "2": { type: "ImageBlur", inputs: {} } } },
    layout: { nodes: { "1": { x: 0, y: 0, title: "Portrait" } }, groups: [] },
  };
  const after = {
    graph: {
      nodes: {
        "2": { type: "ImageBlur", inputs: {} },
        "3": { type: "ImageBlur", inputs: {} },
        "4": { type: "Custom", inputs: {} },
      },
    },
    layout: { nodes: {}, groups: [] },
  };
  const display = (type: string) => ({ LoadImage: "Load Image", ImageBlur: "Blur Image" })[type];

  it("names nodes by title, else the type's display name, else the type; ids only where names repeat", () => {
    const name = nodeNamer([before, after], display);
    expect(name("1")).toBe("Portrait"); // removed: named from the older version
    expect(name("2")).toBe("Blur Image #2");
    expect(name("3")).toBe("Blur Image #3");
    expect(name("4")).toBe("Custom");
    expect(name("9")).toBe("#9");
    expect(
      diffSummary(
        { added: ["3", "4"], removed: ["1"], changed: [{ node: "2", inputs: ["sigma"] }], type_changed: [] },
        name,
      ),
    ).toEqual([
      "Added 2 nodes: Blur Image #3, Custom",
      "Removed 1 node: Portrait",
      "Changed inputs of 1 node: Blur Image #2 (sigma)",
    ]);
  });
});

describe("runSubject", () => {
  it("names the workflow and version, or says the graph was unsaved", () => {
    const names = new Map([[7, "Portraits"]]);
    expect(runSubject({ workflow: 7, workflow_version: 3 }, names)).toBe("Portraits v3");
    expect(runSubject({ workflow: 7, workflow_version: null }, names)).toBe("Portraits");
    expect(runSubject({ workflow: 8, workflow_version: 1 }, names)).toBe("workflow #8 v1");
    expect(runSubject({ workflow: null }, names)).toBe("an unsaved graph");
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
