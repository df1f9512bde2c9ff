import { describe, expect, it } from "vitest";
import { COMPACT_ZOOM, nodeLook, OVERVIEW_ZOOM } from "./node-look";

describe("nodeLook", () => {
  it("draws full nodes from the compact threshold up", () => {
    expect(nodeLook(1)).toBe("full");
    expect(nodeLook(2.5)).toBe("full");
    expect(nodeLook(COMPACT_ZOOM)).toBe("full");
  });

  it("draws compact nodes between the two thresholds", () => {
    expect(nodeLook(COMPACT_ZOOM - 0.01)).toBe("compact");
    expect(nodeLook(OVERVIEW_ZOOM)).toBe("compact");
  });

  it("draws the overview below the overview threshold", () => {
    expect(OVERVIEW_ZOOM).toBeLessThan(COMPACT_ZOOM);
    expect(nodeLook(OVERVIEW_ZOOM - 0.01)).toBe("overview");
    expect(nodeLook(0.1)).toBe("overview");
  });
});
