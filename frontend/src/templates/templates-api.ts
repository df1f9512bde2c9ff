// Built-in templates, opening a graph file and exporting a version (docs/api.md "Templates" and "Export").
import { z } from "zod";
import { apiRequest, toApiError } from "../api/client";
import { workflowDetailSchema } from "../api/schemas";
import { comfyImportSchema } from "../comfy/comfy-api";

export const builtinTemplateSchema = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string().default(""),
  category: z.string(),
  node_count: z.number(),
  /** What this server lacks to run it, in words; empty when it is ready. */
  needs: z.array(z.string()).default([]),
  preview_url: z.string(),
});
export type BuiltinTemplate = z.infer<typeof builtinTemplateSchema>;

export type ExportFormat = "python" | "svg";

export const templatesApi = {
  builtin: (workspace?: number) =>
    apiRequest("/api/templates/builtin", z.array(builtinTemplateSchema), { query: { workspace } }),
  use: (id: string, workspace: number, name?: string) =>
    apiRequest(`/api/templates/builtin/${encodeURIComponent(id)}/use`, workflowDetailSchema, {
      method: "POST",
      body: name ? { workspace, name } : { workspace },
    }),
  /** A Flowyard graph or document, checked and laid out by the server; answered like the ComfyUI import. */
  open: (document: { graph: unknown; layout?: unknown }) =>
    apiRequest("/api/workflows/open", comfyImportSchema, { method: "POST", body: document }),
  /** The version as a download: the file's name (from the server) and its bytes. */
  exportVersion: async (workflowId: number, version: number, format: ExportFormat) => {
    const response = await fetch(`/api/workflows/${workflowId}/versions/${version}/export?format=${format}`, {
      credentials: "same-origin",
    });
    if (!response.ok) throw await toApiError(response);
    const disposition = response.headers.get("Content-Disposition") ?? "";
    const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? `workflow.${format === "python" ? "py" : "svg"}`;
    return { name, blob: await response.blob() };
  },
};
