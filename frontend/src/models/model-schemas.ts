// `GET /api/models` (ModelScope models and library files by kind), `POST /api/models/fetch` and
// `GET /api/models/fetches` (docs/api.md "Workers, models and recovery"; backend/workers_registry/serializers.py).
import { z } from "zod";
import { modelFileSchema } from "../editor/model-files";
import { modelSchema } from "../workers/worker-schemas";

export const modelListSchema = z.object({
  count: z.number().optional(),
  results: z.array(modelSchema).default([]),
  files: z.record(z.string(), z.array(modelFileSchema)).default({}),
});
export type ModelList = z.infer<typeof modelListSchema>;

export const fetchStatuses = ["queued", "running", "done", "failed"] as const;

export const modelFetchSchema = z.object({
  id: z.number(),
  repo_id: z.string(),
  file: z.string(),
  kind: z.string(),
  revision: z.string(),
  local_files_only: z.boolean().default(false),
  overwrite: z.boolean().default(false),
  status: z.string(), // queued | running | done | failed
  error: z.string().default(""),
  name: z.string().default(""),
  sha256: z.string().default(""),
  size_bytes: z.number().nullish(),
  worker: z.string().default(""),
  requested_by: z.string().nullish(),
  created: z.string(),
  started: z.string().nullish(),
  finished: z.string().nullish(),
});
export type ModelFetch = z.infer<typeof modelFetchSchema>;

export interface FetchRequest {
  repo_id: string;
  file: string;
  kind: string;
  revision: string;
  local_files_only: boolean;
  overwrite: boolean;
}
