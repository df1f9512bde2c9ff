// How the models page groups, filters and words the library: kinds in a useful order, search, sources, hashes.
import type { ModelFile } from "../editor/model-files";
import type { Model } from "../workers/worker-schemas";
import type { ModelFetch } from "./model-schemas";

/** The library's kinds (workers/runtime/model_library.py KIND_FOLDERS), the ones a diffusion workflow needs first. */
export const LIBRARY_KINDS = [
  "checkpoints",
  "diffusion_models",
  "text_encoders",
  "vae",
  "loras",
  "upscale_models",
  "controlnet",
  "clip_vision",
  "embeddings",
  "latent_upscale_models",
  "vae_approx",
  "style_models",
  "gligen",
  "hypernetworks",
  "photomaker",
  "audio_encoders",
  "model_patches",
  "diffusers",
] as const;

/** "diffusion_models" -> "Diffusion models". */
export function kindLabel(kind: string): string {
  const words = kind.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** `modelscope:owner/repo@rev` for a file fetched from ModelScope; another recorded source as `key:value`. */
export function sourceLabel(source: Record<string, unknown> | null | undefined): string | null {
  if (!source) return null;
  if (typeof source.modelscope === "string") {
    const rev = typeof source.revision === "string" && source.revision ? `@${source.revision}` : "";
    return `modelscope:${source.modelscope}${rev}`;
  }
  const first = Object.entries(source).find(([, v]) => typeof v === "string");
  return first ? `${first[0]}:${String(first[1])}` : null;
}

/** The first 12 hex digits, enough to tell files apart at a glance. */
export function shortSha(sha: string | null | undefined): string {
  return sha ? sha.slice(0, 12) : "";
}

function fileMatches(kind: string, f: ModelFile, words: string[]): boolean {
  const haystack = [kind, f.name, f.sha256 ?? "", sourceLabel(f.source) ?? "", ...f.workers].join(" ").toLowerCase();
  return words.every((w) => haystack.includes(w));
}

function searchWords(query: string): string[] {
  return query.toLowerCase().split(/\s+/).filter(Boolean);
}

export interface KindGroup {
  kind: string;
  files: ModelFile[];
}

/** Kinds in LIBRARY_KINDS order (unknown kinds after, by name), files by name, only what matches every word of
 * `query` (in the kind, name, sha256, source or worker names); kinds left empty are dropped. */
export function groupFiles(files: Record<string, ModelFile[]>, query = ""): KindGroup[] {
  const words = searchWords(query);
  const rank = (kind: string) => {
    const i = (LIBRARY_KINDS as readonly string[]).indexOf(kind);
    return i < 0 ? LIBRARY_KINDS.length : i;
  };
  return Object.entries(files)
    .map(([kind, list]) => ({
      kind,
      files: list.filter((f) => fileMatches(kind, f, words)).sort((a, b) => a.name.localeCompare(b.name)),
    }))
    .filter((g) => g.files.length > 0)
    .sort((a, b) => rank(a.kind) - rank(b.kind) || a.kind.localeCompare(b.kind));
}

export function countFiles(files: Record<string, ModelFile[]>): number {
  return Object.values(files).reduce((n, list) => n + list.length, 0);
}

/** ModelScope models matching every word of `query` in their id, revision or task. */
export function filterModels(models: readonly Model[], query = ""): Model[] {
  const words = searchWords(query);
  return models.filter((m) => {
    const haystack = `${m.model_id} ${m.revision} ${m.task ?? ""}`.toLowerCase();
    return words.every((w) => haystack.includes(w));
  });
}

/** True while a job may still change: the page polls then. */
export function fetchActive(jobs: readonly Pick<ModelFetch, "status">[]): boolean {
  return jobs.some((j) => j.status === "queued" || j.status === "running");
}
