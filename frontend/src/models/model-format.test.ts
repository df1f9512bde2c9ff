import { describe, expect, it } from "vitest";
import { fetchActive, groupFiles, kindLabel, shortSha, sourceLabel } from "./model-format";

const file = (name: string, extra: Record<string, unknown> = {}) => ({ name, workers: ["w1"], ...extra });

describe("model-format", () => {
  it("orders kinds as the library does, unknown kinds last by name, files by name", () => {
    const groups = groupFiles({
      zz_custom: [file("a")],
      loras: [file("b"), file("a")],
      checkpoints: [file("c")],
      aa_custom: [file("d")],
    });
    expect(groups.map((g) => g.kind)).toEqual(["checkpoints", "loras", "aa_custom", "zz_custom"]);
    expect(groups[1]!.files.map((f) => f.name)).toEqual(["a", "b"]);
  });

  it("matches every search word in kind, name, hash, source or workers", () => {
    const files = {
      vae: [file("x.safetensors", { sha256: "abcdef", source: { modelscope: "o/r", revision: "v2" } })],
      loras: [file("y.pt")],
    };
    expect(groupFiles(files, "vae abcd").map((g) => g.kind)).toEqual(["vae"]);
    expect(groupFiles(files, "o/r@v2").map((g) => g.kind)).toEqual(["vae"]);
    expect(groupFiles(files, "w1").map((g) => g.kind)).toEqual(["vae", "loras"]);
    expect(groupFiles(files, "vae y.pt")).toEqual([]);
  });

  it("words sources, hashes, kinds and job states", () => {
    expect(sourceLabel({ modelscope: "owner/repo", revision: "v1", file: "m.safetensors" })).toBe(
      "modelscope:owner/repo@v1",
    );
    expect(sourceLabel({ url: "https://example.test/m" })).toBe("url:https://example.test/m");
    expect(sourceLabel(null)).toBeNull();
    expect(shortSha("0123456789abcdef")).toBe("0123456789ab");
    expect(kindLabel("diffusion_models")).toBe("Diffusion models");
    expect(fetchActive([{ status: "done" }, { status: "running" }])).toBe(true);
    expect(fetchActive([{ status: "done" }, { status: "failed" }])).toBe(false);
  });
});
