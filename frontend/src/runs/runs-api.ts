// Typed calls of the runs API (docs/api.md "Runs"). Kept in the runs feature folder; api/endpoints.ts stays
// the editor's core set.
import { z } from "zod";
import { apiRequest } from "../api/client";
import type { GraphJson } from "../api/schemas";
import { eventPageSchema, runDetailSchema, runPageSchema, type RunStatus } from "./run-schemas";

/** What POST /api/runs takes: a saved workflow version (with constant overrides) or a raw graph. */
export type RunRequest =
  | {
      workflow: number;
      version?: number;
      overrides?: Record<string, Record<string, unknown>>;
      outputs?: string[];
      priority?: number;
    }
  | { workspace: number; graph: GraphJson; outputs?: string[]; priority?: number };

export interface RunListQuery {
  mine?: boolean;
  workspace?: number;
  workflow?: number;
  status?: RunStatus;
  limit?: number;
  offset?: number;
}

export const runsApi = {
  create: (body: RunRequest) => apiRequest("/api/runs", runDetailSchema, { method: "POST", body }),
  list: (q: RunListQuery = {}, signal?: AbortSignal) =>
    apiRequest("/api/runs", runPageSchema, {
      query: {
        mine: q.mine ? 1 : undefined,
        workspace: q.workspace,
        workflow: q.workflow,
        status: q.status,
        limit: q.limit,
        offset: q.offset,
      },
      ...(signal ? { signal } : {}),
    }),
  get: (id: string, signal?: AbortSignal) => apiRequest(`/api/runs/${id}`, runDetailSchema, signal ? { signal } : {}),
  cancel: (id: string) => apiRequest(`/api/runs/${id}/cancel`, runDetailSchema, { method: "POST" }),
  rerun: (id: string) => apiRequest(`/api/runs/${id}/rerun`, runDetailSchema, { method: "POST" }),
  resume: (id: string) => apiRequest(`/api/runs/${id}/resume`, runDetailSchema, { method: "POST" }),
  remove: (id: string) => apiRequest(`/api/runs/${id}`, z.unknown(), { method: "DELETE" }),
  events: (id: string, after: number, limit = 500) =>
    apiRequest(`/api/runs/${id}/events`, eventPageSchema, { query: { after, limit } }),
};
