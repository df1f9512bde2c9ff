import { describe, expect, it } from "vitest";
import { sampleSchemas } from "./fixtures";
import { buildCategoryTree, createNodeSearch } from "./palette-search";

describe("palette search", () => {
  const search = createNodeSearch(sampleSchemas);

  it("finds nodes by fuzzy display name", () => {
    expect(search.search("blur")[0]?.type).toBe("ImageBlur");
    expect(search.search("invrt")[0]?.type).toBe("ImageInvert"); // a typo still matches
    expect(search.search("save img")[0]?.type).toBe("SaveImage");
  });

  it("finds nodes by type id and category", () => {
    expect(search.search("math.Add")[0]?.type).toBe("math.Add");
    expect(search.search("utils/math").map((s) => s.type)).toContain("math.Add");
  });

  it("lists everything alphabetically for an empty query, and nothing for nonsense", () => {
    expect(search.search("").map((s) => s.display_name)[0]).toBe("Add");
    expect(search.search("", 3)).toHaveLength(3);
    expect(search.search("zzqqxx")).toEqual([]);
  });

  it("builds a sorted category tree", () => {
    const tree = buildCategoryTree(sampleSchemas);
    expect(tree.children.map((c) => c.name)).toEqual(["image", "mask", "utils"]);
    const image = tree.children[0]!;
    expect(image.nodes.map((n) => n.type)).toEqual(["EmptyImage"]);
    expect(image.children.map((c) => c.path)).toEqual([
      "image/batch",
      "image/compose",
      "image/filter",
      "image/generate",
      "image/io",
    ]);
    expect(tree.children[2]!.children[0]!.nodes.map((n) => n.type)).toEqual(["math.Add"]);
  });
});
