import { describe, expect, it } from "vitest";
import { addReroute, addNote } from "../editor/canvas-items";
import { sampleSchemas } from "../editor/fixtures";
import { addNode, createNode, emptyGraph, makeCatalog, makeEdge } from "../editor/graph-model";
import { canvasItemsFromComfy, toComfyWorkflow } from "./comfy-workflow";

const catalog = makeCatalog(sampleSchemas);

function graphWithItems() {
  let graph = emptyGraph();
  graph = addNode(graph, createNode(catalog.get("EmptyImage")!, "1", { x: 0, y: 0 }));
  graph = addNode(graph, createNode(catalog.get("ImageBlur")!, "2", { x: 400, y: 0 }));
  graph = addNode(graph, createNode(catalog.get("ImageBlur")!, "3", { x: 400, y: 300 }));
  graph = { ...graph, edges: [makeEdge("1", 0, "2", "image"), makeEdge("1", 0, "3", "image")] };
  graph = addReroute(graph, graph.edges[0]!.id, { x: 250, y: 40 })!.graph;
  graph = addNote(graph, { x: 0, y: 300 }, "# Read me\n\nThen **run**.").graph;
  graph = addNote(graph, { x: 0, y: 500 }, "plain words", false).graph;
  return graph;
}

describe("ComfyUI UI-format export", () => {
  it("writes notes as MarkdownNote / Note and a reroute with the link through it", () => {
    const file = toComfyWorkflow(graphWithItems(), catalog) as {
      nodes: {
        id: number;
        type: string;
        widgets_values?: unknown[];
        inputs: { name: string; link: number | null }[];
      }[];
      links: number[][];
    };
    const byType = (t: string) => file.nodes.filter((n) => n.type === t);
    expect(byType("MarkdownNote")[0]!.widgets_values).toEqual(["# Read me\n\nThen **run**."]);
    expect(byType("Note")[0]!.widgets_values).toEqual(["plain words"]);
    const reroute = byType("Reroute")[0]!;
    const into = file.links.find((l) => l[3] === reroute.id)!;
    expect(into.slice(1, 3)).toEqual([1, 0]);
    const out = file.links.find((l) => l[1] === reroute.id)!;
    expect(out[3]).toBe(2);
    const blur = file.nodes.find((n) => n.id === 2)!;
    expect(blur.inputs[out[4]!]?.name).toBe("image");
    // The other link stays direct.
    expect(file.links.some((l) => l[1] === 1 && l[3] === 3)).toBe(true);
    // Every link's target slot points at an input that names it.
    for (const l of file.links) {
      const target = file.nodes.find((n) => n.id === l[3])!;
      expect(target.inputs[l[4]!]?.link).toBe(l[0]);
    }
  });

  it("reads the notes and reroutes back from the exported file", () => {
    const graph = graphWithItems();
    const items = canvasItemsFromComfy(toComfyWorkflow(graph, catalog));
    expect(items.notes.map((n) => [n.text, n.markdown, n.x, n.y])).toEqual([
      ["# Read me\n\nThen **run**.", true, 0, 300],
      ["plain words", false, 0, 500],
    ]);
    expect(items.reroutes).toHaveLength(1);
    expect(items.reroutes[0]).toMatchObject({ x: 250, y: 40, source: "1", output: 0, targets: [["2", "image"]] });
  });

  it("follows a chain of reroutes to the real source and finds nothing in an API prompt", () => {
    const file = {
      nodes: [
        { id: 1, type: "EmptyImage", pos: [0, 0], outputs: [{ links: [1] }] },
        { id: 5, type: "Reroute", pos: [100, 0], inputs: [{ name: "", link: 1 }], outputs: [{ links: [2] }] },
        { id: 6, type: "Reroute", pos: [200, 0], inputs: [{ name: "", link: 2 }], outputs: [{ links: [3] }] },
        { id: 2, type: "ImageBlur", pos: [300, 0], inputs: [{ name: "image", link: 3 }] },
      ],
      links: [
        [1, 1, 0, 5, 0, "IMAGE"],
        [2, 5, 0, 6, 0, "IMAGE"],
        [3, 6, 0, 2, 0, "IMAGE"],
      ],
    };
    expect(canvasItemsFromComfy(file).reroutes).toEqual([
      { id: "r6", x: 200, y: 0, source: "1", output: 0, targets: [["2", "image"]] },
    ]);
    expect(canvasItemsFromComfy({ "1": { class_type: "EmptyImage", inputs: {} } })).toEqual({
      notes: [],
      reroutes: [],
    });
  });
});
