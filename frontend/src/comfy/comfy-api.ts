// ComfyUI workflow files (docs/comfyui-compat.md "Workflow files"): import a UI-format workflow or API-format
// prompt into a Flowyard document, export a saved version as an API-format prompt.
import { z } from "zod";
import { apiRequest } from "../api/client";
import { workflowDocumentSchema } from "../api/schemas";

export const importWarningSchema = z.object({
  node: z
    .union([z.string(), z.number()])
    .nullish()
    .transform((n) => (n == null ? null : String(n))),
  message: z.string(),
});
export type ImportWarning = z.infer<typeof importWarningSchema>;

/** `{document, warnings, missing}`: `missing` maps node ids to the original ComfyUI node (unknown types). */
export const comfyImportSchema = z.object({
  document: workflowDocumentSchema,
  warnings: z.array(importWarningSchema).default([]),
  missing: z.record(z.string(), z.unknown()).default({}),
});
export type ComfyImport = z.infer<typeof comfyImportSchema>;

/** An API-format prompt: `{id: {class_type, inputs, _meta?}}`. */
export const comfyPromptSchema = z.record(
  z.string(),
  z.object({
    class_type: z.string(),
    inputs: z.record(z.string(), z.unknown()),
    _meta: z.object({ title: z.string() }).partial().optional(),
  }),
);
export type ComfyPrompt = z.infer<typeof comfyPromptSchema>;

export const comfyApi = {
  importWorkflow: (workflow: unknown) =>
    apiRequest("/api/import/comfy", comfyImportSchema, { method: "POST", body: workflow }),
  exportPrompt: (workflowId: number, version?: number | null) =>
    apiRequest(`/api/workflows/${workflowId}/export/comfy`, comfyPromptSchema, {
      query: { version: version ?? undefined },
    }),
};
