// Marketplace endpoints (docs/api.md "Node packs"). Kept apart from api/endpoints.ts (shared with the editor work).
import { z } from "zod";
import { apiRequest, ApiError, readCookie, toApiError } from "../api/client";
import { listOf } from "../api/schemas";
import {
  installSchema,
  packDetailSchema,
  packSummarySchema,
  packVersionFullSchema,
  publisherDetailSchema,
  publisherSchema,
  reviewItemSchema,
  uploadVerdictSchema,
  type PackVisibility,
  type UploadVerdict,
} from "./pack-schemas";
import type { PackFilters } from "./pack-filters";

const none = z.unknown();
const seg = encodeURIComponent;

/** An upload's answer with its HTTP status: 201/202/422 verdicts and 400/403/409/413 refusals alike. */
export interface UploadAnswer {
  httpStatus: number;
  verdict: UploadVerdict;
}

export const packsApi = {
  list: (filters: PackFilters = {}) =>
    apiRequest("/api/packs", listOf(packSummarySchema), {
      query: {
        q: filters.q || undefined,
        category: filters.category || undefined,
        node_type: filters.nodeType || undefined,
        publisher: filters.publisher || undefined,
      },
    }),
  get: (name: string) => apiRequest(`/api/packs/${seg(name)}`, packDetailSchema),
  version: (name: string, version: string) =>
    apiRequest(`/api/packs/${seg(name)}/versions/${seg(version)}`, packVersionFullSchema),
  versionById: (id: number, signal?: AbortSignal) =>
    apiRequest(`/api/packs/versions/${id}`, packVersionFullSchema, signal ? { signal } : {}),
  setVisibility: (name: string, visibility: PackVisibility) =>
    apiRequest(`/api/packs/${seg(name)}`, packSummarySchema, { method: "PATCH", body: { visibility } }),
  reviewQueue: () => apiRequest("/api/packs/review", listOf(reviewItemSchema)),
  approve: (id: number, reason = "") =>
    apiRequest(`/api/packs/versions/${id}/approve`, packVersionFullSchema, { method: "POST", body: { reason } }),
  reject: (id: number, reason: string) =>
    apiRequest(`/api/packs/versions/${id}/reject`, packVersionFullSchema, { method: "POST", body: { reason } }),
  yank: (id: number, reason = "") =>
    apiRequest(`/api/packs/versions/${id}/yank`, packVersionFullSchema, { method: "POST", body: { reason } }),
  unyank: (id: number) => apiRequest(`/api/packs/versions/${id}/unyank`, packVersionFullSchema, { method: "POST" }),
  deprecate: (id: number, message: string) =>
    apiRequest(`/api/packs/versions/${id}/deprecate`, packVersionFullSchema, { method: "POST", body: { message } }),
  downloadUrl: (name: string, version: string) => `/api/packs/${seg(name)}/versions/${seg(version)}/download`,

  publishers: () => apiRequest("/api/publishers", listOf(publisherSchema)),
  publisher: (slug: string) => apiRequest(`/api/publishers/${seg(slug)}`, publisherDetailSchema),

  installed: (workspace: number) => apiRequest(`/api/workspaces/${workspace}/packs`, listOf(installSchema)),
  /** Install (201) or move the pin (200); without `version` the latest installable one. */
  install: (workspace: number, pack: string, version?: string | null) =>
    apiRequest(`/api/workspaces/${workspace}/packs`, installSchema, {
      method: "POST",
      body: version ? { pack, version } : { pack },
    }),
  remove: (workspace: number, pack: string) =>
    apiRequest(`/api/workspaces/${workspace}/packs/${seg(pack)}`, none, { method: "DELETE" }),

  /** Multipart upload of a `.flowyard.zip`. Verdicts (also 422 and refusals) resolve; other failures throw. */
  upload: async (archive: File, visibility?: PackVisibility): Promise<UploadAnswer> => {
    const form = new FormData();
    form.append("archive", archive);
    if (visibility) form.append("visibility", visibility);
    const headers: Record<string, string> = { Accept: "application/json" };
    const token = readCookie("csrftoken");
    if (token) headers["X-CSRFToken"] = token;
    let response: Response;
    try {
      response = await fetch("/api/packs/upload", { method: "POST", body: form, headers, credentials: "same-origin" });
    } catch {
      throw new ApiError(0, "Cannot reach the server. Check your connection.");
    }
    const body: unknown = await response
      .clone()
      .json()
      .catch(() => undefined);
    const parsed = uploadVerdictSchema.safeParse(body);
    if (parsed.success) return { httpStatus: response.status, verdict: parsed.data };
    if (!response.ok) throw await toApiError(response);
    throw new ApiError(response.status, "The server answered the upload in an unexpected shape.");
  },
};
