import { describe, expect, it } from "vitest";
import { isCompatible, normalizeType, parseType, TypeSpecError } from "./type-compat";

// The same table as nodepacks/sdk/tests/test_types.py, plus a few extra cases.
const TABLE: [string, string, boolean][] = [
  ["INT", "INT", true],
  ["INT", "FLOAT", false],
  ["INT", "ANY", true],
  ["ANY", "IMAGE", true],
  ["INT|FLOAT", "FLOAT", true],
  ["STRING", "INT|FLOAT", false],
  ["LIST[IMAGE]", "LIST[IMAGE]", true],
  ["LIST[IMAGE]", "IMAGE", false],
  ["LIST[INT]", "LIST[ANY]", true],
  ["MYPACK.LATENT", "MYPACK.LATENT", true],
  ["MYPACK.LATENT", "OTHER.LATENT", false],
  // extras
  ["FLOAT", "INT|FLOAT", true],
  ["IMAGE", "LIST[IMAGE]", false],
  ["LIST[INT|FLOAT]", "LIST[FLOAT]", true],
  ["LIST[LIST[INT]]", "LIST[LIST[INT]]", true],
  ["LIST[LIST[INT]]", "LIST[INT]", false],
  ["IMAGE|ANY", "MASK", true],
  ["MASK", "IMAGE", false],
];

describe("isCompatible (port of nodepacks.sdk.types.is_compatible)", () => {
  it.each(TABLE)("%s -> %s is %s", (out, inp, expected) => {
    expect(isCompatible(out, inp)).toBe(expected);
  });

  it("normalises unions regardless of order", () => {
    expect(normalizeType("FLOAT|INT")).toBe("FLOAT|INT");
    expect(normalizeType("INT | FLOAT")).toBe("FLOAT|INT");
    expect(normalizeType("LIST[INT|FLOAT]")).toBe("LIST[FLOAT|INT]");
  });

  it.each(["", "int", "LIST[INT", "INT||FLOAT", "LIST[]", "INT]"])("rejects invalid type %j", (bad) => {
    expect(() => parseType(bad)).toThrow(TypeSpecError);
  });
});
