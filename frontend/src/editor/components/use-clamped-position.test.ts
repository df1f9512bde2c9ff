import { describe, expect, it } from "vitest";
import { clampInto } from "./use-clamped-position";

const box = { width: 280, height: 360 };
const canvas = { width: 800, height: 600 };

describe("clampInto", () => {
  it("keeps a box that fits where it was opened", () => {
    expect(clampInto({ x: 100, y: 100 }, box, canvas)).toEqual({ x: 100, y: 100 });
  });
  it("moves a box that would run off the right edge back inside", () => {
    expect(clampInto({ x: 780, y: 100 }, box, canvas)).toEqual({ x: 800 - 280 - 8, y: 100 });
  });
  it("opens upwards from a point near the bottom", () => {
    expect(clampInto({ x: 100, y: 590 }, box, canvas)).toEqual({ x: 100, y: 590 - 360 });
  });
  it("pins to the top when there is no room above either", () => {
    expect(clampInto({ x: 100, y: 300 }, { width: 280, height: 700 }, canvas)).toEqual({ x: 100, y: 8 });
  });
});
