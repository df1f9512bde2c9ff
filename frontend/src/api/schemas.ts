// zod schemas for every REST payload in docs/api.md implemented so far. Unknown extra fields pass through
// (z.object strips them), so the backend may add fields without breaking the editor.
import { z } from "zod";
import { appSectionSchema } from "../apps/app-section";

// ---- errors ----
export const apiErrorItemSchema = z.object({
  field: z.string().nullish(),
  node: z.string().nullish(),
  input: z.string().nullish(),
  code: z.string().nullish(),
  message: z.string(),
});
export const apiErrorBodySchema = z.object({
  detail: z.string().optional(),
  errors: z.array(apiErrorItemSchema).optional(),
});
export type ApiErrorItem = z.infer<typeof apiErrorItemSchema>;

// ---- accounts ----
export const csrfSchema = z.object({ csrf_token: z.string() });
export const userSchema = z.object({
  id: z.number(),
  username: z.string(),
  email: z.string().nullish(),
  is_site_admin: z.boolean().optional().default(false),
  personal_workspace: z.object({ id: z.number(), slug: z.string() }),
});
export type User = z.infer<typeof userSchema>;
export const userEnvelopeSchema = z.object({ user: userSchema });
/** Auth endpoints answer the user object, or (as docs/api.md reads) `{user}`: both are accepted. */
export const userResponseSchema = z.union([userEnvelopeSchema.transform((e) => e.user), userSchema]);

export const tokenSchema = z.object({
  id: z.number(),
  name: z.string(),
  prefix: z.string(),
  created: z.string(),
  last_used: z.string().nullable(),
  token: z.string().optional(),
});
export type ApiToken = z.infer<typeof tokenSchema>;

// ---- workspaces and teams ----
export const roleSchema = z.enum(["owner", "admin", "editor", "runner", "viewer"]);
export type Role = z.infer<typeof roleSchema>;
export const workspaceSchema = z.object({
  id: z.number(),
  slug: z.string(),
  name: z.string(),
  kind: z.enum(["personal", "team"]),
  role: roleSchema,
});
export type Workspace = z.infer<typeof workspaceSchema>;
export const teamMemberSchema = z.object({
  user: z.object({ id: z.number(), username: z.string() }),
  role: roleSchema,
  joined: z.string(),
});
export const inviteSchema = z.object({ token: z.string(), url: z.string(), expires: z.string() });

// ---- workflow document (graph + layout) ----
/** A link `[node_id, output_index]`; anything else in an input is a constant. */
export const graphLinkSchema = z.tuple([z.string(), z.number().int()]);
export const graphNodeSchema = z.object({
  type: z.string(),
  inputs: z.record(z.string(), z.unknown()).default({}),
});
/** A subgraph definition (docs/architecture.md): instances are nodes of type `subgraph:<id>`. */
export const subgraphJsonSchema = z.object({
  name: z.string(),
  inputs: z
    .array(
      z.object({
        name: z.string(),
        type: z.string(),
        targets: z.array(z.tuple([z.string(), z.string()])).default([]),
        label: z.string().optional(),
      }),
    )
    .default([]),
  outputs: z
    .array(
      z.object({
        name: z.string(),
        type: z.string(),
        source: z.union([graphLinkSchema, z.object({ input: z.string() }), z.null()]).default(null),
      }),
    )
    .default([]),
  nodes: z.record(z.string(), graphNodeSchema).default({}),
});
export type SubgraphJson = z.infer<typeof subgraphJsonSchema>;
export const graphSchema = z.object({
  nodes: z.record(z.string(), graphNodeSchema),
  outputs: z.array(z.string()).optional(),
  subgraphs: z.record(z.string(), subgraphJsonSchema).optional(),
});
export type GraphJson = z.infer<typeof graphSchema>;

export const nodeModeSchema = z.enum(["bypass", "mute"]);
export const layoutNodeSchema = z.object({
  x: z.number(),
  y: z.number(),
  width: z.number().optional(),
  height: z.number().optional(),
  collapsed: z.boolean().optional(),
  mode: nodeModeSchema.optional(),
  title: z.string().optional(),
});
export type LayoutNode = z.infer<typeof layoutNodeSchema>;
export const layoutGroupSchema = z.object({
  id: z.string(),
  title: z.string(),
  x: z.number(),
  y: z.number(),
  width: z.number(),
  height: z.number(),
  color: z.string().optional(),
});
export type LayoutGroup = z.infer<typeof layoutGroupSchema>;
export const viewportSchema = z.object({ x: z.number(), y: z.number(), zoom: z.number() });
/** A canvas note (ComfyUI Note / MarkdownNote): never run. */
export const layoutNoteSchema = z.object({
  id: z.string(),
  x: z.number(),
  y: z.number(),
  width: z.number().optional(),
  height: z.number().optional(),
  text: z.string(),
  markdown: z.boolean().optional(),
});
export type LayoutNote = z.infer<typeof layoutNoteSchema>;
/** A reroute (ComfyUI Reroute): the graph's links from source:output to targets are drawn through it. */
export const layoutRerouteSchema = z.object({
  id: z.string(),
  x: z.number(),
  y: z.number(),
  source: z.string(),
  output: z.number(),
  targets: z.array(z.tuple([z.string(), z.string()])),
});
export type LayoutReroute = z.infer<typeof layoutRerouteSchema>;
export const layoutSchema = z.object({
  nodes: z.record(z.string(), layoutNodeSchema).default({}),
  groups: z.array(layoutGroupSchema).default([]),
  viewport: viewportSchema.optional(),
  /** Where the nodes inside each subgraph definition are drawn. */
  subgraphs: z
    .record(
      z.string(),
      z.object({
        nodes: z.record(z.string(), layoutNodeSchema).default({}),
        groups: z.array(layoutGroupSchema).default([]),
      }),
    )
    .optional(),
  notes: z.array(layoutNoteSchema).optional(),
  reroutes: z.array(layoutRerouteSchema).optional(),
  /** What a published app exposes (apps/app-section.ts, docs/apps.md). */
  app: appSectionSchema.optional(),
});
export type LayoutJson = z.infer<typeof layoutSchema>;
export const workflowDocumentSchema = z.object({
  graph: graphSchema,
  layout: layoutSchema.optional(),
});
export type WorkflowDocument = z.infer<typeof workflowDocumentSchema>;

// ---- workflows ----
export const visibilitySchema = z.string(); // private | team (public is a separate flag)
export const workflowSummarySchema = z.object({
  id: z.number(),
  name: z.string(),
  description: z.string().default(""),
  workspace: z.number(),
  visibility: visibilitySchema,
  is_template: z.boolean().default(false),
  latest_version: z.number().nullable().default(null),
  updated: z.string(),
  forked_from: z.union([z.number(), z.object({ workflow: z.number(), version: z.number() })]).nullish(),
  created_by: z.object({ id: z.number(), username: z.string() }).nullish(),
});
export type WorkflowSummary = z.infer<typeof workflowSummarySchema>;

export const versionSummarySchema = z.object({
  number: z.number(),
  message: z.string().default(""),
  author: z.union([z.string(), z.object({ id: z.number(), username: z.string() })]).nullable(),
  created: z.string(),
  content_hash: z.string(),
  packs: z.unknown().optional(),
});
export type VersionSummary = z.infer<typeof versionSummarySchema>;

/** A version with its document. The document may be nested (`document`) or flat (`graph`, `layout`). */
export const versionDetailSchema = versionSummarySchema.extend({
  graph: graphSchema.optional(),
  layout: layoutSchema.nullish(),
  document: workflowDocumentSchema.optional(),
});
export type VersionDetail = z.infer<typeof versionDetailSchema>;

/** A pack the workflow uses that its workspace lacks or pins at another version (docs/api.md "Node packs"). */
export const missingPackSchema = z.object({
  pack: z.string(),
  version: z.string().nullish(),
  installed_version: z.string().nullish(),
  status: z.string(), // missing | other_version
  message: z.string(),
  install: z.object({ pack: z.string(), version: z.string().nullish() }),
});
export type MissingPack = z.infer<typeof missingPackSchema>;

/** The detail includes the latest version's document; accepted as `document`, `version` or flat fields. */
export const workflowDetailSchema = workflowSummarySchema.extend({
  role: z.string().nullish(),
  permissions: z.object({ view: z.boolean(), run: z.boolean(), edit: z.boolean(), admin: z.boolean() }).nullish(),
  public_url: z.string().nullish(),
  document: workflowDocumentSchema.optional(),
  version: versionDetailSchema.nullish(),
  graph: graphSchema.optional(),
  layout: layoutSchema.nullish(),
  missing_packs: z.array(missingPackSchema).optional(),
});
export type WorkflowDetail = z.infer<typeof workflowDetailSchema>;

export function documentOf(detail: {
  document?: WorkflowDocument | undefined;
  version?: VersionDetail | null | undefined;
  graph?: GraphJson | undefined;
  layout?: LayoutJson | null | undefined;
}): WorkflowDocument | null {
  if (detail.document) return detail.document;
  if (detail.version) {
    const nested = documentOf({ ...detail.version, version: undefined });
    if (nested) return nested;
  }
  if (detail.graph) return { graph: detail.graph, layout: detail.layout ?? undefined };
  return null;
}

/** A list endpoint answers either a plain array or a limit/offset page. */
export function listOf<T extends z.ZodType>(item: T) {
  return z.union([
    z.array(item),
    z.object({ results: z.array(item), count: z.number().optional() }).transform((page) => page.results),
  ]);
}

export const diffSchema = z.object({
  added: z.array(z.string()),
  removed: z.array(z.string()),
  changed: z.array(z.object({ node: z.string(), inputs: z.array(z.string()) })),
  type_changed: z.array(z.unknown()),
});

export const shareSchema = z.object({ visibility: z.string(), public_url: z.string().nullable() });

// ---- node catalog ----
const numberWidgetSchema = z.object({
  kind: z.literal("number"),
  min: z.number().nullish(),
  max: z.number().nullish(),
  step: z.number().nullish(),
  slider: z.boolean().optional().default(false),
  round: z.number().nullish(),
});
const selectWidgetSchema = z.object({
  kind: z.literal("select"),
  options: z.array(z.string()).nullish(),
  source: z.string().nullish(),
  /** A dynamic combo: the inputs each option shows (the other options' inputs are hidden). */
  shows: z.record(z.string(), z.array(z.string())).nullish(),
});
const textWidgetSchema = z.object({
  kind: z.literal("text"),
  multiline: z.boolean().optional().default(false),
  placeholder: z.string().optional().default(""),
});
const toggleWidgetSchema = z.object({
  kind: z.literal("toggle"),
  label_on: z.string().optional().default("on"),
  label_off: z.string().optional().default("off"),
});
export const seedControlSchema = z.enum(["randomize", "increment", "decrement", "fixed"]);
export type SeedControl = z.infer<typeof seedControlSchema>;
const seedWidgetSchema = z.object({
  kind: z.literal("seed"),
  min: z.number().optional().default(0),
  max: z.number().optional().default(Number.MAX_SAFE_INTEGER),
  control_after_run: seedControlSchema.optional().default("randomize"),
});
const uploadWidgetSchema = z.object({
  kind: z.literal("upload"),
  accept: z.enum(["image", "video", "audio", "file"]).optional().default("image"),
  source: z.string().nullish(),
});
const colorWidgetSchema = z.object({ kind: z.literal("color") });

export const widgetSchema = z.discriminatedUnion("kind", [
  numberWidgetSchema,
  selectWidgetSchema,
  textWidgetSchema,
  toggleWidgetSchema,
  seedWidgetSchema,
  uploadWidgetSchema,
  colorWidgetSchema,
]);
export type Widget = z.infer<typeof widgetSchema>;
export type NumberWidget = z.infer<typeof numberWidgetSchema>;
export type SelectWidget = z.infer<typeof selectWidgetSchema>;
export type TextWidget = z.infer<typeof textWidgetSchema>;
export type ToggleWidget = z.infer<typeof toggleWidgetSchema>;
export type SeedWidget = z.infer<typeof seedWidgetSchema>;
export type UploadWidget = z.infer<typeof uploadWidgetSchema>;
export type ColorWidget = z.infer<typeof colorWidgetSchema>;

export const inputModeSchema = z.enum(["widget", "socket", "both"]);
export type InputMode = z.infer<typeof inputModeSchema>;
export const inputSpecSchema = z.object({
  name: z.string(),
  type: z.string(),
  required: z.boolean(),
  mode: inputModeSchema,
  default: z.unknown().optional(),
  has_default: z.boolean().optional().default(false),
  tooltip: z.string().optional().default(""),
  widget: widgetSchema.nullish(),
});
export type InputSpec = z.infer<typeof inputSpecSchema>;
export const outputSpecSchema = z.object({
  name: z.string(),
  type: z.string(),
  tooltip: z.string().optional().default(""),
});
export type OutputSpec = z.infer<typeof outputSpecSchema>;
export const nodeSchemaSchema = z.object({
  type: z.string(),
  display_name: z.string(),
  category: z.string(),
  description: z.string().optional().default(""),
  version: z.string().optional().default("1"),
  output_node: z.boolean().optional().default(false),
  deprecated: z.string().nullish(),
  non_deterministic: z.boolean().optional().default(false),
  requires_gpu: z.boolean().optional().default(false),
  memory_mb: z.number().optional().default(0),
  inputs: z.array(inputSpecSchema),
  outputs: z.array(outputSpecSchema),
  /** The pack the node comes from: `{name, version}` (a bare name is accepted too). */
  pack: z.union([z.string(), z.object({ name: z.string(), version: z.string().optional() })]).nullish(),
});
export type NodeSchema = z.infer<typeof nodeSchemaSchema>;
/** What callers write (defaults optional), e.g. test fixtures. */
export type NodeSchemaInput = z.input<typeof nodeSchemaSchema>;
export const packSchema = z.object({
  name: z.string(),
  version: z.string(),
  display_name: z.string().optional().default(""),
  builtin: z.boolean().optional().default(false),
});
export const nodeCatalogSchema = z.object({
  api_version: z.union([z.string(), z.number()]),
  packs: z.array(packSchema).default([]),
  nodes: z.array(nodeSchemaSchema),
});
export type NodeCatalogJson = z.infer<typeof nodeCatalogSchema>;
