// @vitest-environment jsdom
import { afterEach, describe, expect, it } from "vitest";
import { readRecentNodeTypes, rememberNodeType, RECENT_LIMIT } from "./recent-nodes";

afterEach(() => window.localStorage.clear());

describe("recent node types", () => {
  it("keeps the newest first, once each, up to the limit", () => {
    rememberNodeType("A");
    rememberNodeType("B");
    rememberNodeType("A");
    expect(readRecentNodeTypes()).toEqual(["A", "B"]);
    for (let i = 0; i < RECENT_LIMIT + 5; i += 1) rememberNodeType(`T${i}`);
    expect(readRecentNodeTypes()).toHaveLength(RECENT_LIMIT);
    expect(readRecentNodeTypes()[0]).toBe(`T${RECENT_LIMIT + 4}`);
  });

  it("ignores what it did not write", () => {
    window.localStorage.setItem("flowyard.recentNodeTypes", "{not json");
    expect(readRecentNodeTypes()).toEqual([]);
    window.localStorage.setItem("flowyard.recentNodeTypes", JSON.stringify(["A", 3, null]));
    expect(readRecentNodeTypes()).toEqual(["A"]);
  });
});
