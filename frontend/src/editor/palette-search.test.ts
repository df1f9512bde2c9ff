import { describe, expect, it } from "vitest";
import { sampleSchemas } from "./fixtures";
import type { NodeSchema } from "../api/schemas";
import { buildCategoryTree, createNodeSearch, matchTier, MatchTier, wordsOf } from "./palette-search";

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

function schema(type: string, display_name: string, category = "misc", extra: Partial<NodeSchema> = {}): NodeSchema {
  return {
    ...sampleSchemas[0]!,
    type,
    display_name,
    category,
    description: "",
    deprecated: null,
    inputs: [],
    outputs: [],
    ...extra,
  };
}

describe("node search ranking", () => {
  const catalog = [
    schema("ImageBlurAdvanced", "Blur Image (advanced)", "image/filter"),
    schema("Blur", "Blur", "image/filter"),
    schema("MotionBlur", "Motion Blur", "image/filter"),
    schema("BlurMask", "Blur Mask", "mask"),
    schema("TextBlurb", "Text Blurb", "text"),
    schema("LoadImage", "Load Image", "image/io"),
    schema("LoadImageMask", "Load Image (as Mask)", "mask"),
    schema("ImageLoader", "Image Loader", "image/io", { deprecated: "use Load Image" }),
    schema("SaveImage", "Save Image", "image/io"),
    schema("KSampler", "KSampler", "sampling"),
    schema("KSamplerAdvanced", "KSampler (Advanced)", "sampling"),
  ];
  const types = (q: string, recent: string[] = []) =>
    createNodeSearch(catalog, { recent: () => recent })
      .search(q)
      .map((s) => s.type);

  it("splits names into words, camelCase and punctuation alike", () => {
    expect(wordsOf("KSamplerAdvanced")).toEqual(["k", "sampler", "advanced"]);
    expect(wordsOf("image_blur Mask")).toEqual(["image", "blur", "mask"]);
    expect(wordsOf("VAEDecode")).toEqual(["vae", "decode"]);
  });

  it("sorts the tiers: exact, prefix, word start, fuzzy", () => {
    expect(matchTier(catalog[1]!, "blur")).toBe(MatchTier.Exact);
    expect(matchTier(catalog[3]!, "blur")).toBe(MatchTier.Prefix);
    expect(matchTier(catalog[2]!, "blur")).toBe(MatchTier.WordStart);
    expect(matchTier(catalog[4]!, "blur")).toBe(MatchTier.WordStart); // "Blurb" starts with "blur"
    expect(matchTier(catalog[5]!, "blur")).toBeNull();
    const ranked = types("blur");
    expect(ranked[0]).toBe("Blur");
    expect(ranked.indexOf("BlurMask")).toBeLessThan(ranked.indexOf("MotionBlur"));
    expect(ranked.indexOf("MotionBlur")).toBeLessThan(ranked.length);
  });

  it("matches the type id exactly as well as the title", () => {
    expect(types("ksampler")[0]).toBe("KSampler");
    expect(types("KSamplerAdvanced")[0]).toBe("KSamplerAdvanced");
  });

  it("ranks every word's start above a fuzzy hit, and does not match loosely", () => {
    expect(types("load mask")[0]).toBe("LoadImageMask");
    expect(types("img save")).toContain("SaveImage");
    expect(types("qqq")).toEqual([]);
    expect(types("sampler qqqq")).toEqual([]); // every word must match somewhere
  });

  it("breaks ties by recent use, then by the categories of recent nodes", () => {
    // "Load Image" and "Load Image (as Mask)" are both prefix matches of "load".
    expect(types("load")[0]).toBe("LoadImage"); // shorter name first without history
    expect(types("load", ["LoadImageMask"])[0]).toBe("LoadImageMask");
    // Word-start ties (Motion Blur, Text Blurb): the category of a recent node (text) comes first.
    const withText = types("blur", ["TextBlurb"]);
    expect(withText.indexOf("TextBlurb")).toBeLessThan(withText.indexOf("MotionBlur"));
    // Recent use never lifts a worse tier over a better one.
    expect(types("blur", ["TextBlurb"])[0]).toBe("Blur");
  });

  it("puts deprecated nodes last and lists recent ones first for an empty query", () => {
    const image = types("image");
    expect(image[image.length - 1]).toBe("ImageLoader");
    expect(types("", ["SaveImage", "KSampler"]).slice(0, 2)).toEqual(["SaveImage", "KSampler"]);
  });
});
