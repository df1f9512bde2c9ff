// The model library's files by kind (`GET /api/models?kind=<kind>`, docs/models.md "Model library"), fetched
// once per kind and shared by every model picker; `refreshModelFiles()` lists them again.
import { useEffect, useSyncExternalStore } from "react";
import { z } from "zod";
import { apiRequest, errorMessage } from "../api/client";

export const MODEL_FILE_SOURCE = "modelfiles.";

export const modelFileSchema = z
  .object({
    name: z.string(),
    size_bytes: z.number().nullish(),
    sha256: z.string().nullish(),
    source: z.record(z.string(), z.unknown()).nullish(),
    folder: z.boolean().optional(),
    workers: z.array(z.string()).default([]),
  })
  .passthrough();
export type ModelFile = z.infer<typeof modelFileSchema>;

const filesSchema = z.object({ files: z.record(z.string(), z.array(modelFileSchema)).default({}) }).passthrough();

/** The library kind of a select's `source` (`modelfiles.checkpoints` -> `checkpoints`), or null. */
export function modelKindOfSource(source: string | null | undefined): string | null {
  return source?.startsWith(MODEL_FILE_SOURCE) ? source.slice(MODEL_FILE_SOURCE.length) || null : null;
}

export const modelFilesApi = {
  list: (kind: string) =>
    apiRequest("/api/models", filesSchema, { query: { kind } }).then((body) => body.files[kind] ?? []),
};

export interface ModelFilesEntry {
  files: ModelFile[] | null;
  error: string | null;
}

const entries = new Map<string, ModelFilesEntry>();
const inflight = new Map<string, Promise<void>>();
const listeners = new Set<() => void>();
const EMPTY: ModelFilesEntry = { files: null, error: null };

function emit(): void {
  for (const l of [...listeners]) l();
}

function load(kind: string, force = false): Promise<void> {
  if (!force && (entries.has(kind) || inflight.has(kind))) return inflight.get(kind) ?? Promise.resolve();
  const p = modelFilesApi
    .list(kind)
    .then(
      (files) => void entries.set(kind, { files, error: null }),
      (exc: unknown) => void entries.set(kind, { files: entries.get(kind)?.files ?? null, error: errorMessage(exc) }),
    )
    .finally(() => {
      inflight.delete(kind);
      emit();
    });
  inflight.set(kind, p);
  return p;
}

/** List every kind again (after a model was added to the library). */
export function refreshModelFiles(): void {
  for (const kind of [...entries.keys()]) void load(kind, true);
}

/** Forget every listing (tests). */
export function resetModelFiles(): void {
  entries.clear();
  inflight.clear();
  emit();
}

export function useModelFiles(kind: string): ModelFilesEntry {
  useEffect(() => {
    void load(kind);
  }, [kind]);
  return useSyncExternalStore(
    (cb) => {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    () => entries.get(kind) ?? EMPTY,
  );
}
