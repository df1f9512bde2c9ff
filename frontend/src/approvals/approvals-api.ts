// Typed calls of the approvals API (docs/approvals.md): the caller's pending approvals, a run's approvals, and
// deciding one.
import { z } from "zod";
import { apiRequest } from "../api/client";
import { runResultSchema, runStatusSchema } from "../runs/run-schemas";

/** What the approvers review: the outputs the step stored when it paused (`node` rather than `node_id`). */
const reviewedSchema = runResultSchema.omit({ node_id: true }).extend({ node: z.string() });

export const approvalSchema = z.object({
  id: z.number(),
  run: z.string(),
  run_status: runStatusSchema,
  workspace: z.number(),
  workflow: z.number().nullable(),
  workflow_name: z.string().nullable(),
  node: z.string(),
  message: z.string().default(""),
  approvers: z.object({ role: z.string(), users: z.array(z.string()), text: z.string().default("") }),
  requested: z.string(),
  deadline: z.string().nullable(),
  on_timeout: z.enum(["approve", "reject"]),
  pending: z.boolean(),
  can_decide: z.boolean(),
  decision: z.enum(["approve", "reject", ""]),
  decided_by: z.string().nullable(),
  decided_at: z.string().nullable(),
  comment: z.string().default(""),
  timed_out: z.boolean().default(false),
  outputs: z.array(reviewedSchema).default([]),
});
export type Approval = z.infer<typeof approvalSchema>;
export type Decision = "approve" | "reject";

const approvalPageSchema = z.object({ count: z.number(), results: z.array(approvalSchema) });

export const approvalsApi = {
  /** The approvals the caller may decide now (pending), or every approval of runs they see. */
  list: (pending: boolean, signal?: AbortSignal) =>
    apiRequest("/api/approvals", approvalPageSchema, {
      query: { pending: pending ? 1 : undefined },
      ...(signal ? { signal } : {}),
    }),
  ofRun: (runId: string, signal?: AbortSignal) =>
    apiRequest(`/api/runs/${runId}/approvals`, z.array(approvalSchema), signal ? { signal } : {}),
  decide: (runId: string, approvalId: number, decision: Decision, comment: string) =>
    apiRequest(`/api/runs/${runId}/approvals/${approvalId}`, approvalSchema, {
      method: "POST",
      body: { decision, comment },
    }),
};
