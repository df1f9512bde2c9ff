// Verdicts from the upload answers and versions the backend really sends.
import { describe, expect, it } from "vitest";
import samples from "./__fixtures__/backend-samples.json";
import { packVersionFullSchema, uploadVerdictSchema } from "./pack-schemas";
import {
  errorLocation,
  pollDelay,
  sortFindings,
  verdictFromUpload,
  verdictFromVersion,
  versionBadges,
} from "./verdict";

function answer(sample: { status: number; body: unknown }) {
  return { httpStatus: sample.status, verdict: uploadVerdictSchema.parse(sample.body) };
}

describe("verdictFromUpload", () => {
  it("a rejected upload (422) lists every error with its file", () => {
    const v = verdictFromUpload(answer(samples.upload_rejected));
    expect(v.kind).toBe("rejected");
    expect(v.tone).toBe("error");
    expect(v.poll).toBe(false);
    expect(v.errors).toEqual([
      {
        location: "../../etc/cron.d/evil",
        message: "'../../etc/cron.d/evil': '..' would escape the pack folder",
        code: "path-traversal",
      },
    ]);
  });

  it("a refusal before storing (400) shows the field error and no version", () => {
    const v = verdictFromUpload(answer(samples.upload_refused));
    expect(v.kind).toBe("rejected");
    expect(v.versionId).toBeNull();
    expect(v.errors[0]).toMatchObject({ location: "field archive" });
    expect(v.message).toMatch(/not a zip/);
  });

  it("a flagged upload shows its findings, high first, with file:line", () => {
    const v = verdictFromUpload(answer(samples.upload_flagged));
    expect(v.kind).toBe("flagged");
    expect(v.tone).toBe("warn");
    expect(v.errors).toEqual([]);
    expect(v.findings.length).toBe(3);
    expect(v.findings.every((f) => f.severity === "high")).toBe(true);
    expect(v.findings[0]).toMatchObject({ file: "shady/__init__.py", line: 36, rule: "process-spawn" });
  });

  it("pending and active uploads", () => {
    expect(verdictFromUpload(answer(samples.upload_pending))).toMatchObject({
      kind: "pending",
      tone: "wait",
      poll: false,
      pack: "vignette",
      version: "0.1.0",
    });
    expect(verdictFromUpload(answer(samples.upload_active))).toMatchObject({ kind: "active", tone: "ok", poll: false });
  });

  it("a 202 asks to poll the version", () => {
    const body = {
      ...samples.upload_pending.body,
      status: "validating",
      version: { ...samples.upload_pending.body.version, validated: false },
    };
    const v = verdictFromUpload({ httpStatus: 202, verdict: uploadVerdictSchema.parse(body) });
    expect(v).toMatchObject({ kind: "validating", poll: true, versionId: samples.upload_pending.body.version.id });
  });
});

describe("verdictFromVersion", () => {
  it("a polled version that is not validated yet keeps polling; once validated it shows its status", () => {
    const raw = samples.upload_flagged.body.version;
    expect(verdictFromVersion(packVersionFullSchema.parse({ ...raw, validated: false })).poll).toBe(true);
    const done = verdictFromVersion(packVersionFullSchema.parse(raw));
    expect(done).toMatchObject({ kind: "flagged", poll: false });
    expect(done.findings).toHaveLength(3);
  });
  it("a rejected version polled: the errors come from the report", () => {
    const v = verdictFromVersion(packVersionFullSchema.parse(samples.upload_rejected.body.version));
    expect(v.errors.map((e) => e.location)).toEqual(["../../etc/cron.d/evil"]);
  });
});

describe("helpers", () => {
  it("names where an error is", () => {
    expect(errorLocation({ file: "demo/__init__.py", line: 12 })).toBe("demo/__init__.py:12");
    expect(errorLocation({ file: "flowyard.toml", field: "version" })).toBe("flowyard.toml · field version");
    expect(errorLocation({ node: "demo.Example" })).toBe("node demo.Example");
    expect(errorLocation({})).toBe("archive");
  });
  it("sorts findings by severity then place", () => {
    const sorted = sortFindings([
      { rule: "network", severity: "medium", file: "a.py", line: 1 },
      { rule: "exec-eval", severity: "high", file: "b.py", line: 9 },
      { rule: "exec-eval", severity: "high", file: "b.py", line: 2 },
    ]);
    expect(sorted.map((f) => `${f.severity}:${f.line}`)).toEqual(["high:2", "high:9", "medium:1"]);
  });
  it("backs off polling to every 5 s", () => {
    expect([0, 1, 2, 10].map(pollDelay)).toEqual([1000, 2000, 3000, 5000]);
  });
  it("badges yanked and deprecated versions", () => {
    expect(versionBadges({ status: "active", yanked: true, deprecated: "use 2.0" }).map((b) => b.label)).toEqual([
      "active",
      "yanked",
      "deprecated",
    ]);
  });
});
