import { apiRequest } from "../api/client";
import { listOf } from "../api/schemas";
import { modelSchema, workerSchema } from "./worker-schemas";

export const workersApi = {
  list: (status?: string, signal?: AbortSignal) =>
    apiRequest("/api/workers", listOf(workerSchema), {
      query: { status: status || undefined },
      ...(signal ? { signal } : {}),
    }),
  models: (task?: string) => apiRequest("/api/models", listOf(modelSchema), { query: { task: task || undefined } }),
};
