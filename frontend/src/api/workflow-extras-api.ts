// Workflow endpoints beyond load/save (docs/api.md "Workflows"): diff, restore, fork, sharing, public links,
// templates, plus the small runs list the home page shows. Kept apart from endpoints.ts (shared file).
import { z } from "zod";
import { apiRequest } from "./client";
import {
  diffSchema,
  listOf,
  shareSchema,
  versionDetailSchema,
  workflowDetailSchema,
  workflowSummarySchema,
} from "./schemas";

export type WorkflowDiff = z.infer<typeof diffSchema>;

export const publicWorkflowSchema = z.object({
  name: z.string(),
  description: z.string().default(""),
  updated: z.string(),
  version: versionDetailSchema.nullable(),
});
export type PublicWorkflow = z.infer<typeof publicWorkflowSchema>;

export const runSummarySchema = z.object({
  id: z.string(),
  status: z.string(),
  workspace: z.number(),
  workflow: z.number().nullable(),
  workflow_version: z.number().nullish(),
  created: z.string(),
  duration: z.number().nullish(),
  error: z.string().nullish(),
});
export type RunSummary = z.infer<typeof runSummarySchema>;
const runPageSchema = z.union([
  z.object({ count: z.number(), results: z.array(runSummarySchema) }).transform((p) => p.results),
  z.array(runSummarySchema),
]);

export const workflowExtras = {
  diff: (id: number, from: number, to: number) =>
    apiRequest(`/api/workflows/${id}/diff`, diffSchema, { query: { from, to } }),
  restore: (id: number, n: number) =>
    apiRequest(`/api/workflows/${id}/versions/${n}/restore`, versionDetailSchema, { method: "POST" }),
  fork: (id: number, workspace: number, name?: string) =>
    apiRequest(`/api/workflows/${id}/fork`, workflowDetailSchema, {
      method: "POST",
      body: name ? { workspace, name } : { workspace },
    }),
  share: (id: number, body: { visibility?: "private" | "team"; public?: boolean }) =>
    apiRequest(`/api/workflows/${id}/share`, shareSchema, { method: "POST", body }),
  publicWorkflow: (token: string) => apiRequest(`/api/public/${encodeURIComponent(token)}`, publicWorkflowSchema),
  templates: (workspace?: number) =>
    apiRequest("/api/templates", listOf(workflowSummarySchema), { query: { workspace } }),
  recentRuns: (limit = 8) => apiRequest("/api/runs", runPageSchema, { query: { mine: 1, limit } }),
};

/** The browser page of a public link: the API answers `/api/public/<token>`, the app shows it at `/p/<token>`. */
export function publicPagePath(publicUrl: string | null | undefined): string | null {
  if (!publicUrl) return null;
  const token = publicUrl.replace(/\/+$/, "").split("/").pop();
  return token ? `/p/${token}` : null;
}
