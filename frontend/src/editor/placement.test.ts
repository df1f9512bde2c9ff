import { describe, expect, it } from "vitest";
import { sampleSchemas } from "./fixtures";
import { addNode, createNode, emptyGraph } from "./graph-model";
import { estimateNodeSize, freeSpot, nodeRects, PLACEMENT_GAP } from "./placement";

const size = { width: 240, height: 120 };

function overlapsAny(rects: ReturnType<typeof nodeRects>, p: { x: number; y: number }) {
  return rects.some(
    (r) => p.x < r.x + r.width && r.x < p.x + size.width && p.y < r.y + r.height && r.y < p.y + size.height,
  );
}

describe("freeSpot", () => {
  it("keeps the wanted spot when it is free", () => {
    expect(freeSpot([{ x: 0, y: 0, width: 240, height: 120 }], { x: 600, y: 0 }, size)).toEqual({ x: 600, y: 0 });
  });

  it("moves off an existing node to the nearest free spot, keeping the gap", () => {
    const taken = [{ x: 0, y: 0, width: 240, height: 120 }];
    const spot = freeSpot(taken, { x: 10, y: 10 }, size);
    expect(overlapsAny(taken, spot)).toBe(false);
    // Nearest: just below or above, or beside, within a few steps.
    expect(Math.hypot(spot.x - 10, spot.y - 10)).toBeLessThanOrEqual(120 + PLACEMENT_GAP + 40);
  });

  it("finds room among many nodes, never on top of one", () => {
    let graph = emptyGraph();
    const schema = sampleSchemas.find((s) => s.type === "ImageBlur")!;
    let n = 0;
    for (let x = 0; x < 5; x += 1)
      for (let y = 0; y < 5; y += 1)
        graph = addNode(graph, createNode(schema, String(++n), { x: x * 260, y: y * 140 }));
    const rects = nodeRects(graph, {});
    const spot = freeSpot(rects, { x: 500, y: 300 }, size);
    expect(overlapsAny(rects, spot)).toBe(false);
  });

  it("uses measured sizes over defaults", () => {
    const graph = addNode(emptyGraph(), createNode(sampleSchemas[0]!, "1", { x: 0, y: 0 }));
    const rects = nodeRects(graph, { "1": { width: 1000, height: 50 } });
    expect(rects[0]).toEqual({ x: 0, y: 0, width: 1000, height: 50 });
    const spot = freeSpot(rects, { x: 700, y: 0 }, size);
    expect(overlapsAny(rects, spot)).toBe(false);
  });

  it("estimates a taller node for more rows", () => {
    const small = estimateNodeSize({ ...sampleSchemas[0]!, inputs: [], outputs: [] });
    expect(estimateNodeSize(sampleSchemas.find((s) => s.inputs.length > 2)!).height).toBeGreaterThan(small.height);
  });
});
