// The marketplace, workers and import schemas against payloads recorded from the real backend
// (__fixtures__/record_pack_samples.py against daphne + Postgres).
import { describe, expect, it } from "vitest";
import { apiErrorBodySchema, workflowDetailSchema } from "../api/schemas";
import { comfyImportSchema, comfyPromptSchema } from "../comfy/comfy-api";
import { modelSchema, workerSchema } from "../workers/worker-schemas";
import samples from "./__fixtures__/backend-samples.json";
import {
  installSchema,
  packDetailSchema,
  packSummarySchema,
  packVersionFullSchema,
  publisherDetailSchema,
  publisherSchema,
  reviewItemSchema,
  uploadVerdictSchema,
} from "./pack-schemas";

function parses<T>(
  schema: { safeParse(x: unknown): { success: boolean; error?: unknown; data?: T } },
  value: unknown,
): T {
  const result = schema.safeParse(value);
  expect(result.success, JSON.stringify(result.error ?? null)).toBe(true);
  return result.data as T;
}

describe("recorded marketplace payloads", () => {
  it("parses every upload answer: 201 pending/active/flagged, 422 rejected, 400 refused", () => {
    for (const key of [
      "upload_pending",
      "upload_active",
      "upload_flagged",
      "upload_rejected",
      "upload_refused",
    ] as const) {
      parses(uploadVerdictSchema, samples[key].body);
    }
    expect(samples.upload_rejected.status).toBe(422);
    expect(samples.upload_refused.status).toBe(400);
  });

  it("parses pack lists, details, versions and publishers", () => {
    for (const item of [...samples.pack_list, ...samples.pack_list_manager]) parses(packSummarySchema, item);
    const detail = parses(packDetailSchema, samples.pack_detail);
    expect(detail.nodes.map((n) => n.type)).toEqual(["vignette.Example"]);
    expect(detail.readme_html).not.toContain("<script>");
    parses(packDetailSchema, samples.pack_detail_manager);
    const full = parses(packVersionFullSchema, samples.version_full_manager);
    expect(full.report?.findings.length).toBeGreaterThan(0);
    parses(packVersionFullSchema, samples.version_full);
    parses(packVersionFullSchema, samples.approved);
    parses(publisherDetailSchema, samples.publisher);
    for (const p of samples.publishers_mine) parses(publisherSchema, p);
  });

  it("parses the review queue, installs and the workflow's missing packs", () => {
    for (const item of [...samples.review_queue, ...samples.review_queue_flagged]) parses(reviewItemSchema, item);
    parses(installSchema, samples.install_created.body);
    for (const item of samples.workspace_packs) parses(installSchema, item);
    parses(apiErrorBodySchema, samples.install_forbidden.body);
    const wf = parses(workflowDetailSchema, samples.workflow_missing_packs);
    expect(wf.missing_packs?.[0]).toMatchObject({
      pack: "vignette",
      status: "missing",
      install: { pack: "vignette", version: "0.1.0" },
    });
  });

  it("parses ComfyUI import and export, workers and models", () => {
    const imported = parses(comfyImportSchema, samples.import_comfy.body);
    expect(Object.keys(imported.missing)).toEqual(["3"]);
    parses(apiErrorBodySchema, samples.import_comfy_bad.body);
    parses(comfyPromptSchema, samples.export_comfy);
    for (const w of [...samples.workers_member, ...samples.workers_admin]) parses(workerSchema, w);
    for (const m of samples.models) parses(modelSchema, m);
  });
});
