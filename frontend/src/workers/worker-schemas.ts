// `GET /api/workers` and `GET /api/models` (docs/api.md "Workers, models and recovery";
// backend/workers_registry/serializers.py). Site admins get host, pid, runs and models on top.
import { z } from "zod";

export const gpuSchema = z.object({ name: z.string(), memory_bytes: z.number().nullish() }).passthrough();

export const workerSchema = z.object({
  name: z.string(),
  kind: z.string(),
  status: z.string(), // online | lost | stopped
  alive: z.boolean(),
  busy: z.boolean(),
  queues: z.array(z.string()).default([]),
  concurrency: z.number().nullish(),
  capabilities: z
    .object({
      cpu_count: z.number().nullish(),
      memory_bytes: z.number().nullish(),
      gpus: z.array(gpuSchema).nullish(),
      packs: z.record(z.string(), z.string()).nullish(),
      // How uploaded packs run on this worker (workers/runtime/packhost/sandbox.py status()).
      pack_sandbox: z
        .object({ mode: z.string(), secure: z.boolean(), uploaded_packs: z.string(), reason: z.string() })
        .nullish(),
      // The models extra (torch, diffusers, transformers): without it, diffusion and ModelScope torch models cannot run there.
      models_extra: z.object({ installed: z.boolean(), missing: z.array(z.string()).default([]) }).nullish(),
    })
    .passthrough()
    .default({}),
  last_heartbeat: z.string().nullish(),
  // site admins only
  hostname: z.string().nullish(),
  pid: z.number().nullish(),
  current_runs: z.array(z.union([z.string(), z.number()]).transform(String)).nullish(),
  warm_models: z.array(z.unknown()).nullish(),
  available_models: z.array(z.unknown()).nullish(),
  started: z.string().nullish(),
});
export type Worker = z.infer<typeof workerSchema>;

export const modelSchema = z.object({
  model_id: z.string(),
  revision: z.string(),
  task: z.string().nullable(),
  framework: z.string().nullable(),
  size_bytes: z.number().nullable(),
  workers: z.array(z.string()).default([]),
  warm_on: z.array(z.string()).default([]),
});
export type Model = z.infer<typeof modelSchema>;
