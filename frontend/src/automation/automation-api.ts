// The automation API (docs/webhooks.md): a workflow's webhooks with their deliveries, trigger URLs, schedules.
import { z } from "zod";
import { apiRequest } from "../api/client";

export const webhookEvents = ["run.finished", "run.failed", "run.cancelled", "approval.requested"] as const;
export type WebhookEvent = (typeof webhookEvents)[number];

export const webhookSchema = z.object({
  id: z.string(),
  workspace: z.number(),
  workflow: z.number().nullable(),
  url: z.string(),
  description: z.string().default(""),
  events: z.array(z.string()),
  active: z.boolean(),
  created: z.string(),
  created_by: z.string().nullable(),
  secret: z.string().optional(),
});
export type Webhook = z.infer<typeof webhookSchema>;

export const attemptSchema = z.object({
  number: z.number(),
  started: z.string(),
  status_code: z.number().nullable(),
  response_excerpt: z.string(),
  duration_ms: z.number(),
  error: z.string(),
});
export type DeliveryAttempt = z.infer<typeof attemptSchema>;

export const deliverySchema = z.object({
  id: z.string(),
  message_id: z.string(),
  webhook: z.string(),
  event: z.string(),
  event_key: z.string(),
  run_id: z.string().nullable(),
  state: z.enum(["pending", "succeeded", "failed"]),
  attempts: z.number(),
  created: z.string(),
  next_attempt_at: z.string().nullable(),
  last_status_code: z.number().nullable(),
  last_error: z.string(),
  delivered: z.string().nullable(),
  payload: z.unknown(),
  attempt_log: z.array(attemptSchema),
});
export type Delivery = z.infer<typeof deliverySchema>;

const deliveryPageSchema = z.object({
  count: z.number(),
  next: z.string().nullable(),
  previous: z.string().nullable(),
  results: z.array(deliverySchema),
});

export const triggerSchema = z.object({
  id: z.string(),
  workflow: z.number(),
  version: z.number().nullable(),
  description: z.string().default(""),
  mapping: z.record(z.string(), z.string()),
  active: z.boolean(),
  owner: z.string(),
  created: z.string(),
  last_fired: z.string().nullable(),
  url: z.string(),
  secret: z.string().optional(),
});
export type Trigger = z.infer<typeof triggerSchema>;

export const firingSchema = z.object({
  occurrence: z.string(),
  fired: z.string(),
  run_id: z.string().nullable(),
  error: z.string(),
  missed: z.number(),
});

export const scheduleSchema = z.object({
  id: z.string(),
  workflow: z.number(),
  version: z.number().nullable(),
  description: z.string().default(""),
  cron: z.string(),
  timezone: z.string(),
  catch_up: z.enum(["skip", "run_once"]),
  inputs: z.record(z.string(), z.record(z.string(), z.unknown())),
  paused: z.boolean(),
  owner: z.string(),
  created: z.string(),
  next_fire_at: z.string().nullable(),
  last_fired: z.string().nullable(),
  next_runs: z.array(z.string()),
  recent_firings: z.array(firingSchema),
});
export type Schedule = z.infer<typeof scheduleSchema>;

export interface ScheduleRequest {
  cron: string;
  timezone: string;
  catch_up: "skip" | "run_once";
  paused?: boolean;
}

const workflowPath = (workflow: number, what: string) => `/api/workflows/${workflow}/${what}`;

export const automationApi = {
  webhooks: (workflow: number) => apiRequest(workflowPath(workflow, "webhooks"), z.array(webhookSchema)),
  createWebhook: (workflow: number, body: { url: string; events: string[]; description?: string }) =>
    apiRequest(workflowPath(workflow, "webhooks"), webhookSchema, { method: "POST", body }),
  updateWebhook: (id: string, body: { active?: boolean; events?: string[]; url?: string }) =>
    apiRequest(`/api/webhooks/${id}`, webhookSchema, { method: "PATCH", body }),
  rotateWebhookSecret: (id: string) =>
    apiRequest(`/api/webhooks/${id}/rotate-secret`, webhookSchema, { method: "POST" }),
  deleteWebhook: (id: string) => apiRequest(`/api/webhooks/${id}`, z.undefined(), { method: "DELETE" }),
  deliveries: (id: string) =>
    apiRequest(`/api/webhooks/${id}/deliveries`, deliveryPageSchema, { query: { limit: 10 } }),
  redeliver: (id: string, delivery: string) =>
    apiRequest(`/api/webhooks/${id}/deliveries/${delivery}/redeliver`, deliverySchema, { method: "POST" }),
  triggers: (workflow: number) => apiRequest(workflowPath(workflow, "triggers"), z.array(triggerSchema)),
  createTrigger: (workflow: number, body: { mapping: Record<string, string>; description?: string }) =>
    apiRequest(workflowPath(workflow, "triggers"), triggerSchema, { method: "POST", body }),
  updateTrigger: (id: string, body: { active?: boolean; mapping?: Record<string, string> }) =>
    apiRequest(`/api/triggers/${id}`, triggerSchema, { method: "PATCH", body }),
  rotateTriggerSecret: (id: string) =>
    apiRequest(`/api/triggers/${id}/rotate-secret`, triggerSchema, { method: "POST" }),
  deleteTrigger: (id: string) => apiRequest(`/api/triggers/${id}`, z.undefined(), { method: "DELETE" }),
  schedules: (workflow: number) => apiRequest(workflowPath(workflow, "schedules"), z.array(scheduleSchema)),
  createSchedule: (workflow: number, body: ScheduleRequest) =>
    apiRequest(workflowPath(workflow, "schedules"), scheduleSchema, { method: "POST", body }),
  updateSchedule: (id: string, body: Partial<ScheduleRequest>) =>
    apiRequest(`/api/schedules/${id}`, scheduleSchema, { method: "PATCH", body }),
  deleteSchedule: (id: string) => apiRequest(`/api/schedules/${id}`, z.undefined(), { method: "DELETE" }),
  preview: (cron: string, timezone: string) =>
    apiRequest("/api/schedules/preview", z.object({ next_runs: z.array(z.string()) }), {
      query: { cron, timezone, count: 5 },
    }),
};
