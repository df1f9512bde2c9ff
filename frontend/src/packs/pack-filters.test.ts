import { describe, expect, it } from "vitest";
import {
  categoryOptions,
  describeFilters,
  filtersFromParams,
  filtersToParams,
  hasFilters,
  withFilter,
} from "./pack-filters";

describe("marketplace filters in the URL", () => {
  it("reads the API's own query names, ignoring blanks", () => {
    const f = filtersFromParams(new URLSearchParams("q=blur&category=image&node_type=demo.Example&publisher=&x=1"));
    expect(f).toEqual({ q: "blur", category: "image", nodeType: "demo.Example" });
  });
  it("round-trips and keeps unrelated params", () => {
    const base = new URLSearchParams("tab=nodes&q=old");
    const params = filtersToParams({ q: "new", publisher: "alice" }, base);
    expect(params.toString()).toBe("tab=nodes&q=new&publisher=alice");
    expect(filtersFromParams(params)).toEqual({ q: "new", publisher: "alice" });
  });
  it("clears a filter set to an empty value", () => {
    const f = withFilter({ q: "a", category: "image" }, "category", "  ");
    expect(f).toEqual({ q: "a" });
    expect(filtersToParams(f).toString()).toBe("q=a");
    expect(hasFilters({})).toBe(false);
    expect(hasFilters(f)).toBe(true);
  });
  it("describes a search for the empty state", () => {
    expect(describeFilters({ q: "blur", nodeType: "x.Y", publisher: "alice" })).toBe(
      "matching “blur”, providing node x.Y, by alice",
    );
  });
  it("offers every category seen plus the current one", () => {
    expect(categoryOptions([{ categories: ["utils", "image"] }, { categories: ["image"] }], "audio")).toEqual([
      "audio",
      "image",
      "utils",
    ]);
  });
});
