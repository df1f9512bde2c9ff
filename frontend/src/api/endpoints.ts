// One typed function per endpoint of docs/api.md the editor uses.
import { z } from "zod";
import { apiRequest } from "./client";
import {
  csrfSchema,
  documentOf,
  listOf,
  nodeCatalogSchema,
  nodeSchemaSchema,
  userResponseSchema,
  versionDetailSchema,
  versionSummarySchema,
  workflowDetailSchema,
  workflowSummarySchema,
  workspaceSchema,
  type GraphJson,
  type LayoutJson,
  type User,
} from "./schemas";

export const auth = {
  csrf: () => apiRequest("/api/auth/csrf", csrfSchema),
  me: (): Promise<User> => apiRequest("/api/auth/me", userResponseSchema),
  login: async (username: string, password: string): Promise<User> => {
    await auth.csrf().catch(() => undefined); // make sure the csrftoken cookie exists
    return apiRequest("/api/auth/login", userResponseSchema, { method: "POST", body: { username, password } });
  },
  /** Answers the same whether the username was free or taken (no account enumeration): sign in next. */
  signup: async (username: string, password: string, email?: string): Promise<void> => {
    await auth.csrf().catch(() => undefined);
    const body = email ? { username, password, email } : { username, password };
    await apiRequest("/api/auth/signup", z.object({ detail: z.string() }), { method: "POST", body });
  },
  logout: () => apiRequest("/api/auth/logout", z.unknown(), { method: "POST" }),
};

export const workspaces = {
  list: () => apiRequest("/api/workspaces", listOf(workspaceSchema)),
};

export interface SaveDocument {
  graph: GraphJson;
  layout?: LayoutJson;
  message?: string;
}

export const workflows = {
  list: (query: { workspace?: number; template?: boolean; q?: string } = {}) =>
    apiRequest("/api/workflows", listOf(workflowSummarySchema), {
      query: { workspace: query.workspace, template: query.template ? 1 : undefined, q: query.q || undefined },
    }),
  get: async (id: number) => {
    const detail = await apiRequest(`/api/workflows/${id}`, workflowDetailSchema);
    return { workflow: detail, document: documentOf(detail) };
  },
  create: (body: { workspace: number; name: string; description?: string } & SaveDocument) =>
    apiRequest("/api/workflows", workflowDetailSchema, { method: "POST", body }),
  update: (id: number, body: { name?: string; description?: string; is_template?: boolean }) =>
    apiRequest(`/api/workflows/${id}`, workflowDetailSchema, { method: "PATCH", body }),
  remove: (id: number) => apiRequest(`/api/workflows/${id}`, z.unknown(), { method: "DELETE" }),
  versions: (id: number) => apiRequest(`/api/workflows/${id}/versions`, listOf(versionSummarySchema)),
  saveVersion: (id: number, body: SaveDocument) =>
    apiRequest(`/api/workflows/${id}/versions`, versionDetailSchema, { method: "POST", body }),
  version: (id: number, n: number) => apiRequest(`/api/workflows/${id}/versions/${n}`, versionDetailSchema),
  /** Save the co-edited draft as the next version (backend/coedit/views.py; 200 when already the latest). */
  saveDraft: (id: number, body: { message?: string }) =>
    apiRequest(`/api/workflows/${id}/draft/save`, versionDetailSchema, { method: "POST", body }),
};

const catalogEnvelopeSchema = nodeCatalogSchema.extend({ nodes: z.array(z.unknown()) });

export const nodes = {
  /** The node catalog (with `workspace`: plus the packs installed there); schemas that do not parse are left out
   * and named in `skipped` (never fatal). */
  catalog: async (workspace?: number) => {
    const envelope = await apiRequest(
      "/api/nodes",
      catalogEnvelopeSchema,
      workspace === undefined ? {} : { query: { workspace } },
    );
    const parsed = envelope.nodes.map((raw) => ({ raw, result: nodeSchemaSchema.safeParse(raw) }));
    const skipped = parsed
      .filter((p) => !p.result.success)
      .map((p) => String((p.raw as { type?: unknown } | null)?.type ?? "?"));
    const good = parsed.flatMap((p) => (p.result.success ? [p.result.data] : []));
    return { ...envelope, nodes: good, skipped };
  },
};
