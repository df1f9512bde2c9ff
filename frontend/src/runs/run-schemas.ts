// zod schemas of the runs API (docs/api.md "Runs") and of both websockets (ws/runs/<id>/, ws/events/).
// Checked against messages captured from the real backend in __fixtures__/backend-samples.json.
import { z } from "zod";

// awaiting_approval: paused at an approval step (docs/approvals.md); rejected: an approver said no.
export const runStatusSchema = z.enum([
  "queued",
  "running",
  "succeeded",
  "failed",
  "cancelled",
  "awaiting_approval",
  "rejected",
]);
export type RunStatus = z.infer<typeof runStatusSchema>;
export const FINISHED: ReadonlySet<RunStatus> = new Set(["succeeded", "failed", "cancelled", "rejected"]);

export const nodeStatusSchema = z.enum([
  "queued",
  "cached",
  "running",
  "succeeded",
  "failed",
  "skipped",
  "cancelled",
  "awaiting",
]);
export type NodeStatus = z.infer<typeof nodeStatusSchema>;

const userRefSchema = z.object({ id: z.number(), username: z.string() });

export const runSchema = z.object({
  id: z.string(),
  status: runStatusSchema,
  workspace: z.number(),
  workflow: z.number().nullable(),
  workflow_version: z.number().nullable(),
  created_by: userRefSchema.nullable(),
  source: z.string(),
  priority: z.number(),
  created: z.string(),
  started: z.string().nullable(),
  finished: z.string().nullable(),
  duration: z.number().nullable(),
  error: z.string().default(""),
  queue_position: z.number().nullable(),
  cancel_requested: z.boolean().default(false),
  rerun_of: z.string().nullable(),
  last_seq: z.number(),
});
export type Run = z.infer<typeof runSchema>;

export const outputSummarySchema = z.object({ name: z.string(), type: z.string(), summary: z.string().default("") });
export type OutputSummary = z.infer<typeof outputSummarySchema>;

export const nodeRunSchema = z.object({
  node_id: z.string(),
  type: z.string(),
  status: nodeStatusSchema,
  started: z.string().nullable(),
  finished: z.string().nullable(),
  duration: z.number().nullable(),
  progress: z.object({ value: z.number(), max: z.number() }).nullable(),
  error: z.string().default(""),
  error_type: z.string().default(""),
  traceback: z.string().nullish(),
  outputs: z.array(outputSummarySchema).default([]),
});
export type NodeRun = z.infer<typeof nodeRunSchema>;

/** A result as the detail lists it. */
export const runResultSchema = z.object({
  id: z.number(),
  node_id: z.string(),
  index: z.number(),
  kind: z.string(), // image | text | json (preview in events)
  filename: z.string().nullish(),
  content_type: z.string().nullish(),
  size: z.number().nullish(),
  saved: z.boolean().default(false),
  text: z.string().nullish(),
  data: z.unknown().optional(),
  url: z.string().nullish(),
});
export type RunResult = z.infer<typeof runResultSchema>;

export const runDetailSchema = runSchema.extend({
  graph: z.unknown(),
  outputs: z.array(z.string()).nullable(),
  /** {pack name: version} of the installed node packs the graph was validated with (and runs with). */
  packs: z.record(z.string(), z.string()).default({}),
  worker: z.string().nullish(),
  attempts: z.number().default(0),
  nodes: z.array(nodeRunSchema),
  results: z.array(runResultSchema),
});
export type RunDetail = z.infer<typeof runDetailSchema>;

export const runPageSchema = z.object({
  count: z.number(),
  next: z.string().nullable(),
  previous: z.string().nullable(),
  results: z.array(runSchema),
});
export type RunPage = z.infer<typeof runPageSchema>;

// ---- events (stored, replayed over HTTP, streamed on ws/runs/<id>/) ----

/** A result as events carry it: `node` instead of `node_id`. */
export const eventResultSchema = z
  .object({
    id: z.number(),
    kind: z.string(),
    node: z.string(),
    index: z.number(),
    saved: z.boolean().default(false),
    url: z.string().nullish(),
    filename: z.string().nullish(),
    content_type: z.string().nullish(),
    size: z.number().nullish(),
    text: z.string().nullish(),
    data: z.unknown().optional(),
  })
  .transform(({ node, ...rest }): RunResult => ({ ...rest, node_id: node }));

const base = { seq: z.number().int().positive(), time: z.number() };

export const runEventSchema = z.discriminatedUnion("type", [
  z.object({
    ...base,
    type: z.literal("run_started"),
    node: z.null(),
    data: z.object({ nodes: z.array(z.string()), targets: z.array(z.string()).default([]) }),
  }),
  z.object({
    ...base,
    type: z.literal("nodes_cached"),
    node: z.null(),
    data: z.object({ nodes: z.array(z.string()) }),
  }),
  z.object({ ...base, type: z.literal("node_started"), node: z.string(), data: z.object({ type: z.string() }) }),
  z.object({
    ...base,
    type: z.literal("progress"),
    node: z.string(),
    data: z.object({ value: z.number(), max: z.number(), preview: eventResultSchema.nullish() }),
  }),
  z.object({
    ...base,
    type: z.literal("node_finished"),
    node: z.string(),
    data: z.object({
      type: z.string(),
      duration: z.number().nullish(),
      cached: z.boolean().default(false),
      outputs: z.array(outputSummarySchema).default([]),
      results: z.array(eventResultSchema).default([]),
    }),
  }),
  z.object({
    ...base,
    type: z.literal("node_failed"),
    node: z.string(),
    data: z.object({
      type: z.string(),
      error: z.string().default(""),
      error_type: z.string().nullish(),
      traceback: z.string().nullish(),
      duration: z.number().nullish(),
    }),
  }),
  z.object({
    ...base,
    type: z.literal("nodes_skipped"),
    node: z.null(),
    data: z.object({ nodes: z.array(z.string()), reason: z.string().default("upstream_failed") }),
  }),
  z.object({
    ...base,
    type: z.literal("node_retry"),
    node: z.string(),
    data: z.object({
      type: z.string(),
      attempt: z.number(),
      attempts: z.number(),
      error: z.string().default(""),
      error_type: z.string().nullish(),
      delay: z.number().nullish(),
      reason: z.string().nullish(),
      models_freed: z.number().nullish(),
    }),
  }),
  z.object({
    ...base,
    type: z.literal("run_requeued"),
    node: z.null(),
    data: z.object({
      attempt: z.number(),
      max_attempts: z.number().nullish(),
      reason: z.string().default("worker_lost"),
      previous_worker: z.string().nullish(),
      worker: z.string().nullish(),
    }),
  }),
  // An approval step paused the run: what it shows the approvers comes as results (docs/approvals.md).
  z.object({
    ...base,
    type: z.literal("node_paused"),
    node: z.string(),
    data: z.object({
      type: z.string(),
      message: z.string().default(""),
      results: z.array(eventResultSchema).default([]),
    }),
  }),
  z.object({
    ...base,
    type: z.literal("run_paused"),
    node: z.null(),
    data: z.object({ paused: z.array(z.string()).default([]) }),
  }),
  z.object({
    ...base,
    type: z.literal("approval_decided"),
    node: z.string(),
    data: z.object({
      approval: z.number(),
      decision: z.enum(["approve", "reject"]),
      decided_by: z.string().nullish(),
      comment: z.string().default(""),
      timed_out: z.boolean().default(false),
      run_status: runStatusSchema.optional(),
    }),
  }),
  z.object({
    ...base,
    type: z.literal("run_finished"),
    node: z.null(),
    data: z.object({
      status: runStatusSchema,
      executed: z.number().default(0),
      cached: z.number().default(0),
      failed: z.array(z.string()).default([]),
      duration: z.number().nullish(),
    }),
  }),
]);
export type RunEvent = z.infer<typeof runEventSchema>;

const KNOWN_EVENT_TYPES: ReadonlySet<string> = new Set(runEventSchema.options.map((o) => o.shape.type.value));

/**
 * Parse one event; an event type this editor does not know yet is kept as `unknown` (it still advances `seq`,
 * so replay never stalls on it), anything else malformed is an error.
 */
export const anyEventSchema = z.union([
  runEventSchema,
  z
    .object({
      ...base,
      type: z.string().refine((t) => !KNOWN_EVENT_TYPES.has(t)),
      node: z.string().nullable(),
      data: z.unknown(),
    })
    .transform((e) => ({ ...e, type: "unknown" as const, original: e.type })),
]);
export type AnyRunEvent = z.infer<typeof anyEventSchema>;

/** One frame of ws/runs/<id>/?batch=1: the events of one published batch (or replay page), in seq order. */
export const eventFrameSchema = z.array(anyEventSchema);

export const eventPageSchema = z.object({
  run: z.string(),
  status: runStatusSchema,
  last_seq: z.number(),
  events: z.array(anyEventSchema),
  more: z.boolean(),
});
export type EventPage = z.infer<typeof eventPageSchema>;

// ---- ws/events/: run statuses and queue positions of the user's workspaces ----

export const runStatusMessageSchema = z.object({
  type: z.literal("run.status"),
  run: z.object({
    id: z.string(),
    status: runStatusSchema,
    workspace: z.number(),
    workflow: z.number().nullable(),
    created_by: z.number().nullable(),
    priority: z.number().default(0),
    created: z.string(),
    started: z.string().nullable(),
    finished: z.string().nullable(),
    error: z.string().default(""),
    last_seq: z.number(),
  }),
});
export const runQueueMessageSchema = z.object({
  type: z.literal("run.queue"),
  workspace: z.number(),
  runs: z.array(z.object({ id: z.string(), position: z.number() })),
});
/** The server dropped this socket's backlog (it fell too far behind): reload what is shown from the API. */
export const resyncMessageSchema = z.object({ type: z.literal("resync") });
export const workspaceEventSchema = z.discriminatedUnion("type", [
  runStatusMessageSchema,
  runQueueMessageSchema,
  resyncMessageSchema,
]);
export type WorkspaceEvent = z.infer<typeof workspaceEventSchema>;
export type RunStatusMessage = z.infer<typeof runStatusMessageSchema>;

/** Websocket close codes of backend/runs/consumers.py: no point reconnecting after these. */
export const CLOSE_BAD_REQUEST = 4400;
export const CLOSE_UNAUTHENTICATED = 4401;
export const CLOSE_NOT_FOUND = 4404;
export const FINAL_CLOSE_CODES: ReadonlySet<number> = new Set([
  CLOSE_BAD_REQUEST,
  CLOSE_UNAUTHENTICATED,
  CLOSE_NOT_FOUND,
]);
