// The workspace's uploads, fetched once per workspace and kind and shared by every upload/select widget;
// `refresh` after an upload updates them all.
import { useEffect, useSyncExternalStore } from "react";
import { errorMessage } from "../api/client";
import type { Upload } from "./upload-schemas";
import { uploadsApi, type UploadKind } from "./uploads-api";

export interface UploadsEntry {
  uploads: Upload[] | null;
  error: string | null;
}

const entries = new Map<string, UploadsEntry>();
const inflight = new Map<string, Promise<void>>();
const listeners = new Set<() => void>();
const EMPTY: UploadsEntry = { uploads: null, error: null };

function keyOf(workspace: number, kind: UploadKind | "all"): string {
  return `${workspace}:${kind}`;
}

function emit(): void {
  for (const l of [...listeners]) l();
}

function load(workspace: number, kind: UploadKind | "all", force = false): Promise<void> {
  const key = keyOf(workspace, kind);
  if (!force && (entries.has(key) || inflight.has(key))) return inflight.get(key) ?? Promise.resolve();
  const p = uploadsApi
    .list(workspace, kind === "all" ? undefined : kind)
    .then(
      (uploads) => void entries.set(key, { uploads, error: null }),
      (exc: unknown) => void entries.set(key, { uploads: entries.get(key)?.uploads ?? null, error: errorMessage(exc) }),
    )
    .finally(() => {
      inflight.delete(key);
      emit();
    });
  inflight.set(key, p);
  return p;
}

/** Reload every list of a workspace (after an upload). */
export function refreshUploads(workspace: number): void {
  for (const key of [...entries.keys()]) {
    if (key.startsWith(`${workspace}:`)) void load(workspace, key.split(":")[1] as UploadKind | "all", true);
  }
}

export function useUploads(workspace: number | null, kind: UploadKind | "all"): UploadsEntry {
  useEffect(() => {
    if (workspace !== null) void load(workspace, kind);
  }, [workspace, kind]);
  return useSyncExternalStore(
    (cb) => {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    () => (workspace === null ? EMPTY : (entries.get(keyOf(workspace, kind)) ?? EMPTY)),
  );
}
