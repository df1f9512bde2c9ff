// zod schemas of the marketplace payloads (docs/api.md "Node packs"; backend/registry/serializers.py), checked
// against payloads recorded from the real backend in __fixtures__/backend-samples.json.
import { z } from "zod";
import { nodeSchemaSchema } from "../api/schemas";

const userRefSchema = z.object({ id: z.number(), username: z.string() });

export const versionStatusSchema = z.enum(["pending", "active", "flagged", "rejected"]);
export type VersionStatus = z.infer<typeof versionStatusSchema>;
export const packVisibilitySchema = z.enum(["public", "team", "private"]);
export type PackVisibility = z.infer<typeof packVisibilitySchema>;

/** A static-scan finding (workers/packs/scan.py). */
export const findingSchema = z.object({
  rule: z.string(),
  severity: z.string(), // high | medium | low
  file: z.string().nullish(),
  line: z.number().nullish(),
  snippet: z.string().nullish(),
  explanation: z.string().nullish(),
});
export type Finding = z.infer<typeof findingSchema>;

/** A validation error of the report (workers/packs/validate.py): each names a file, line, field or node. */
export const validationErrorSchema = z.object({
  code: z.string().nullish(),
  message: z.string(),
  file: z.string().nullish(),
  line: z.number().nullish(),
  field: z.string().nullish(),
  node: z.string().nullish(),
});
export type ValidationError = z.infer<typeof validationErrorSchema>;

/** The validator's report: the publisher and site admins see it whole. */
export const reportSchema = z.object({
  ok: z.boolean(),
  flagged: z.boolean().optional().default(false),
  errors: z.array(validationErrorSchema).default([]),
  findings: z.array(findingSchema).default([]),
  import_checked: z.boolean().optional(),
  source: z.string().nullish(),
  sha256: z.string().nullish(),
  size: z.number().nullish(),
});
export type Report = z.infer<typeof reportSchema>;

/** Nodes the version declares: parsed leniently so one odd schema never hides the others. */
const lenientNodes = z
  .array(z.unknown())
  .default([])
  .transform((items) =>
    items.flatMap((raw) => {
      const parsed = nodeSchemaSchema.safeParse(raw);
      return parsed.success ? [parsed.data] : [];
    }),
  );

export const packVersionSchema = z.object({
  id: z.number(),
  pack: z.string(),
  version: z.string(),
  status: versionStatusSchema,
  verdict: z.string().default(""),
  validated: z.boolean(),
  yanked: z.boolean(),
  yank_reason: z.string().default(""),
  deprecated: z.string().nullish(),
  archive_sha256: z.string(),
  archive_size: z.number(),
  findings_count: z.number().default(0),
  high_findings: z.number().default(0),
  nodes_known: z.boolean().default(false),
  review_note: z.string().default(""),
  reviewed_at: z.string().nullish(),
  created: z.string(),
  // manager view (publisher, site admins)
  errors: z.array(validationErrorSchema).optional(),
  report: reportSchema.nullish(),
  uploaded_by: userRefSchema.nullish(),
  reviewed_by: userRefSchema.nullish(),
});
export type PackVersion = z.infer<typeof packVersionSchema>;

export const packVersionFullSchema = packVersionSchema.extend({
  manifest: z.record(z.string(), z.unknown()).nullish(),
  readme_html: z.string().default(""),
  changelog: z.string().default(""),
  nodes: lenientNodes,
  findings: z.array(findingSchema).default([]),
  files: z
    .array(z.object({ path: z.string(), sha256: z.string().optional(), size: z.number().optional() }))
    .default([]),
});
export type PackVersionFull = z.infer<typeof packVersionFullSchema>;

export const packPublisherRefSchema = z.object({ slug: z.string(), display_name: z.string(), trusted: z.boolean() });

export const packSummarySchema = z.object({
  name: z.string(),
  display_name: z.string(),
  description: z.string().default(""),
  publisher: packPublisherRefSchema,
  visibility: packVisibilitySchema,
  categories: z.array(z.string()).default([]),
  homepage: z.string().nullish(),
  downloads: z.number().default(0),
  installs: z.number().default(0),
  latest_version: z.string().nullable(),
  can_manage: z.boolean().default(false),
  created: z.string(),
  updated: z.string(),
});
export type PackSummary = z.infer<typeof packSummarySchema>;

export const packDetailSchema = packSummarySchema.extend({
  versions: z.array(packVersionSchema),
  shown_version: z.string().nullable(),
  readme_html: z.string().default(""),
  nodes: lenientNodes,
  nodes_known: z.boolean().default(false),
  findings: z.array(findingSchema).default([]),
  installed_in: z.number().default(0),
});
export type PackDetail = z.infer<typeof packDetailSchema>;

export const publisherSchema = z.object({
  slug: z.string(),
  display_name: z.string(),
  kind: z.enum(["user", "team"]),
  workspace: z.number().nullable(),
  user: userRefSchema.nullable(),
  trusted: z.boolean(),
  created: z.string(),
});
export type Publisher = z.infer<typeof publisherSchema>;
export const publisherDetailSchema = publisherSchema.extend({
  can_manage: z.boolean().default(false),
  packs: z.array(packSummarySchema).default([]),
});
export type PublisherDetail = z.infer<typeof publisherDetailSchema>;

/** `POST /api/packs/upload` answers (201, 202, 422) and refusals before anything is stored (400, 403, 409, 413). */
export const uploadVerdictSchema = z.object({
  status: z.enum(["active", "pending", "flagged", "rejected", "validating"]),
  message: z.string(),
  report: reportSchema.nullish(),
  url: z.string().optional(),
  version: packVersionFullSchema.optional(),
  detail: z.string().optional(),
  errors: z.array(z.object({ field: z.string().nullish(), message: z.string() }).passthrough()).optional(),
});
export type UploadVerdict = z.infer<typeof uploadVerdictSchema>;

/** `GET /api/packs/review`: versions waiting for a site admin, with publisher slug and findings. */
export const reviewItemSchema = packVersionSchema.extend({
  publisher: z.string(),
  findings: z.array(findingSchema).default([]),
});
export type ReviewItem = z.infer<typeof reviewItemSchema>;

export const installSchema = z.object({
  pack: z.string(),
  display_name: z.string(),
  version: z.string(),
  version_id: z.number(),
  yanked: z.boolean(),
  yank_reason: z.string().default(""),
  deprecated: z.string().nullish(),
  nodes: z.array(z.string().nullable()).default([]),
  latest_version: z.string().nullable(),
  update_available: z.boolean(),
  installed_by: userRefSchema.nullable(),
  created: z.string(),
  updated: z.string(),
});
export type Install = z.infer<typeof installSchema>;
