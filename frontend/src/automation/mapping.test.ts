import { describe, expect, it } from "vitest";
import { curlExample, formatMapping, parseMapping, sampleBody } from "./mapping";

describe("trigger mapping text", () => {
  it("parses one field per line and skips blanks and comments", () => {
    const { mapping, errors } = parseMapping("prompt = 6.text\n\n# seed\nissue.title=3.seed\n");
    expect(errors).toEqual([]);
    expect(mapping).toEqual({ prompt: "6.text", "issue.title": "3.seed" });
  });

  it("reports bad lines by number", () => {
    const { errors, mapping } = parseMapping("prompt = text\nok = 1.a\n= 2.b\nx = 3.\ny = 4.c = 5\nz = .d");
    expect(mapping).toEqual({ prompt: "text", ok: "1.a" }); // "text": an app input's name
    expect(errors).toEqual([
      'Line 3: expected "body.field = node_id.input".',
      'Line 4: expected "body.field = node_id.input".',
      'Line 5: expected "body.field = node_id.input".',
      'Line 6: expected "body.field = node_id.input".',
    ]);
  });

  it("formats back to the same lines", () => {
    const mapping = { prompt: "6.text", seed: "3.seed" };
    expect(parseMapping(formatMapping(mapping)).mapping).toEqual(mapping);
  });

  it("builds a nested sample body and a curl command", () => {
    const body = sampleBody({ "issue.title": "6.text", "issue.id": "3.seed", seed: "3.seed" });
    expect(body).toEqual({ issue: { title: "…", id: "…" }, seed: "…" });
    const curl = curlExample("http://h/api/triggers/1", "whsec_x", { seed: 1 });
    expect(curl).toContain('-H "X-Trigger-Secret: whsec_x"');
    expect(curl).toContain(`-d '{"seed":1}'`);
  });
});
