import { describe, expect, it } from "vitest";
import { sampleCatalog, schemaOf } from "../editor/fixtures";
import {
  addNode,
  createNode,
  emptyGraph,
  makeEdge,
  setWidgetValue,
  toggleMode,
  type EditorGraph,
} from "../editor/graph-model";
import { buildRunRequest, constantOverrides } from "./run-request";

function base(): EditorGraph {
  let g = emptyGraph();
  g = addNode(g, createNode(schemaOf("EmptyImage"), "1", { x: 0, y: 0 }));
  g = addNode(g, createNode(schemaOf("ImageBlur"), "2", { x: 200, y: 0 }));
  return { ...g, edges: [makeEdge("1", 0, "2", "image")] };
}
const target = { workflow: { id: 7, workspace: 3 }, version: 2, fallbackWorkspace: 1 };

describe("run request", () => {
  it("runs the saved version when nothing changed", () => {
    const g = base();
    expect(buildRunRequest(g, g, sampleCatalog, target)).toEqual({ workflow: 7, version: 2 });
  });

  it("sends changed constants as overrides of the saved version", () => {
    const saved = base();
    const current = setWidgetValue(saved, "1", "width", 64);
    expect(buildRunRequest(current, saved, sampleCatalog, target)).toEqual({
      workflow: 7,
      version: 2,
      overrides: { "1": { width: 64 } },
    });
  });

  it("posts the graph when the structure changed, or for unsaved and bypassed graphs", () => {
    const saved = base();
    const added = addNode(saved, createNode(schemaOf("EmptyImage"), "3", { x: 0, y: 0 }));
    expect(buildRunRequest(added, saved, sampleCatalog, target)).toMatchObject({
      workspace: 3,
      graph: { nodes: { "3": {} } },
    });
    const unlinked = { ...saved, edges: [] };
    expect(buildRunRequest(unlinked, saved, sampleCatalog, target)).toHaveProperty("graph");
    const muted = toggleMode(saved, ["2"], "mute");
    expect(buildRunRequest(muted, muted, sampleCatalog, target)).toHaveProperty("graph");
    expect(
      buildRunRequest(saved, saved, sampleCatalog, { workflow: null, version: null, fallbackWorkspace: 1 }),
    ).toMatchObject({ workspace: 1 });
  });

  it("refuses to express a removed input or a link change as overrides", () => {
    const a = { nodes: { "1": { type: "X", inputs: { v: 1 } } } };
    expect(constantOverrides(a, { nodes: { "1": { type: "X", inputs: {} } } })).toBeNull();
    expect(constantOverrides(a, { nodes: { "1": { type: "X", inputs: { v: ["2", 0] } } } })).toBeNull();
    expect(constantOverrides(a, { nodes: { "1": { type: "Y", inputs: { v: 1 } } } })).toBeNull();
    expect(constantOverrides(a, { nodes: { "1": { type: "X", inputs: { v: 1, w: "new" } } } })).toEqual({
      "1": { w: "new" },
    });
  });
});
