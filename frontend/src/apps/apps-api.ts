// The apps API (docs/apps.md): publish and manage apps, run one from its form, read its runs, its keys.
import { z } from "zod";
import { ApiError, apiRequest, readCookie, toApiError } from "../api/client";
import { appInputKinds } from "./app-section";

export const appSummarySchema = z.object({
  slug: z.string(),
  title: z.string(),
  description: z.string().default(""),
  workspace: z.number(),
  workflow: z.number(),
  version: z.number(),
  visibility: z.enum(["workspace", "public"]),
  public_rate_limit: z.number(),
  enabled: z.boolean(),
  created_by: z.object({ id: z.number(), username: z.string() }).nullish(),
  created: z.string(),
  updated: z.string(),
  can_edit: z.boolean(),
  can_run: z.boolean(),
  can_open_graph: z.boolean(),
});
export type AppSummary = z.infer<typeof appSummarySchema>;

export const formInputSchema = z.object({
  name: z.string(),
  kind: z.enum(appInputKinds),
  label: z.string(),
  help: z.string().default(""),
  min: z.number().nullable().default(null),
  max: z.number().nullable().default(null),
  step: z.number().nullable().default(null),
  default: z.unknown().optional(),
  options: z.array(z.unknown()).nullable().default(null),
  source: z.string().nullable().default(null),
  required: z.boolean().default(false),
});
export type FormInput = z.infer<typeof formInputSchema>;

export const appDetailSchema = appSummarySchema.extend({
  inputs: z.array(formInputSchema),
  outputs: z.array(z.object({ name: z.string(), node: z.string(), label: z.string() })),
});
export type AppDetail = z.infer<typeof appDetailSchema>;

export const appOutputItemSchema = z.object({
  id: z.number(),
  kind: z.string(),
  node: z.string(),
  url: z.string().nullish(),
  filename: z.string().nullish(),
  content_type: z.string().nullish(),
  size: z.number().nullish(),
  text: z.string().nullish(),
  data: z.unknown().optional(),
});
export type AppOutputItem = z.infer<typeof appOutputItemSchema>;

export const appRunSchema = z.object({
  id: z.string(),
  app: z.string(),
  status: z.string(),
  created: z.string(),
  finished: z.string().nullable(),
  error: z.string().default(""),
  progress: z.object({ total: z.number(), finished: z.number() }),
  inputs: z.record(z.string(), z.unknown()).default({}),
  outputs: z.record(z.string(), z.array(appOutputItemSchema)).default({}),
  via: z.string(),
});
export type AppRun = z.infer<typeof appRunSchema>;

export const appRunSummarySchema = z.object({
  id: z.string(),
  status: z.string(),
  created: z.string(),
  finished: z.string().nullable(),
  via: z.string(),
  inputs: z.record(z.string(), z.unknown()).default({}),
});
export type AppRunSummary = z.infer<typeof appRunSummarySchema>;

export const appKeySchema = z.object({
  id: z.number(),
  name: z.string(),
  prefix: z.string(),
  created: z.string(),
  last_used: z.string().nullable(),
  revoked_at: z.string().nullable(),
  key: z.string().optional(),
});
export type AppKey = z.infer<typeof appKeySchema>;

export const appUploadSchema = z.object({ id: z.number(), name: z.string(), kind: z.string() });

export interface PublishRequest {
  workflow: number;
  version?: number;
  slug: string;
  title: string;
  description?: string;
  visibility?: "workspace" | "public";
  public_rate_limit?: number;
}

const path = (slug: string) => `/api/apps/${encodeURIComponent(slug)}`;

export const appsApi = {
  list: (workspace?: number) => apiRequest("/api/apps", z.array(appSummarySchema), { query: { workspace } }),
  get: (slug: string, signal?: AbortSignal) => apiRequest(path(slug), appDetailSchema, signal ? { signal } : {}),
  publish: (body: PublishRequest) => apiRequest("/api/apps", appSummarySchema, { method: "POST", body }),
  update: (slug: string, body: Partial<Omit<PublishRequest, "workflow" | "slug">> & { enabled?: boolean }) =>
    apiRequest(path(slug), appSummarySchema, { method: "PATCH", body }),
  remove: (slug: string) => apiRequest(path(slug), z.undefined(), { method: "DELETE" }),
  run: (slug: string, inputs: Record<string, unknown>) =>
    apiRequest(`${path(slug)}/runs`, appRunSchema, { method: "POST", body: inputs }),
  getRun: (slug: string, id: string, signal?: AbortSignal) =>
    apiRequest(`${path(slug)}/runs/${id}`, appRunSchema, signal ? { signal } : {}),
  runs: (slug: string) => apiRequest(`${path(slug)}/runs`, z.array(appRunSummarySchema)),
  keys: (slug: string) => apiRequest(`${path(slug)}/keys`, z.array(appKeySchema)),
  createKey: (slug: string, name: string) =>
    apiRequest(`${path(slug)}/keys`, appKeySchema, { method: "POST", body: { name } }),
  revokeKey: (slug: string, id: number) => apiRequest(`${path(slug)}/keys/${id}`, z.undefined(), { method: "DELETE" }),
  upload: async (slug: string, file: File) => {
    const form = new FormData();
    form.append("file", file);
    const headers: Record<string, string> = { Accept: "application/json" };
    const token = readCookie("csrftoken");
    if (token) headers["X-CSRFToken"] = token;
    let response: Response;
    try {
      response = await fetch(`${path(slug)}/uploads`, {
        method: "POST",
        body: form,
        headers,
        credentials: "same-origin",
      });
    } catch {
      throw new ApiError(0, "Cannot reach the server. Check your connection.");
    }
    if (!response.ok) throw await toApiError(response);
    const parsed = appUploadSchema.safeParse(await response.json().catch(() => undefined));
    if (!parsed.success) throw new ApiError(response.status, "The server answered the upload in an unexpected shape.");
    return parsed.data;
  },
};

export const FINISHED = new Set(["succeeded", "failed", "cancelled", "rejected"]);
