import { apiRequest } from "../api/client";
import { listOf } from "../api/schemas";
import { workerSchema } from "../workers/worker-schemas";
import { type FetchRequest, modelFetchSchema, modelListSchema } from "./model-schemas";

export const modelsApi = {
  list: (signal?: AbortSignal) => apiRequest("/api/models", modelListSchema, signal ? { signal } : {}),
  workers: (signal?: AbortSignal) =>
    apiRequest("/api/workers", listOf(workerSchema), { query: { status: "online" }, ...(signal ? { signal } : {}) }),
  fetches: (signal?: AbortSignal) =>
    apiRequest("/api/models/fetches", listOf(modelFetchSchema), signal ? { signal } : {}),
  fetch: (body: FetchRequest) => apiRequest("/api/models/fetch", modelFetchSchema, { method: "POST", body }),
};
