// /models: the site's model library by kind (what live workers list), the ModelScope models workers hold, what is
// warm in memory, and (site admins) fetching a ModelScope file into the library (docs/models.md "Model library").
import { type FormEvent, useEffect, useRef, useState } from "react";
import { ApiError, errorMessage } from "../api/client";
import type { User } from "../api/schemas";
import type { ModelFile } from "../editor/model-files";
import { copyText, RequireSignIn } from "../app/require-sign-in";
import { ErrorState, Loading } from "../app/status-views";
import { useAsync } from "../app/use-async";
import { usePolled } from "../app/use-polled";
import { Badge } from "../packs/pack-widgets";
import { formatBytes, modelLabel } from "../workers/worker-format";
import { ModelScopeTable } from "../workers/modelscope-table";
import type { Model, Worker } from "../workers/worker-schemas";
import {
  countFiles,
  fetchActive,
  filterModels,
  groupFiles,
  kindLabel,
  LIBRARY_KINDS,
  shortSha,
  sourceLabel,
} from "./model-format";
import type { FetchRequest, ModelFetch } from "./model-schemas";
import { modelsApi } from "./models-api";

export const POLL_MS = 2000;
/** Where docs/models.md is published, if the site says (VITE_FLOWYARD_DOCS_URL, e.g. https://host/docs/). */
const DOCS_URL: string = (import.meta.env.VITE_FLOWYARD_DOCS_URL as string | undefined) ?? "";

function DocsRef() {
  const label = "docs/models.md, “Model library”";
  return DOCS_URL ? (
    <a href={`${DOCS_URL.replace(/\/?$/, "/")}models.md#model-library`}>{label}</a>
  ) : (
    <code>{label}</code>
  );
}

function CopySha({ sha }: { sha: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <span className="fy-mono" title={sha}>
      {shortSha(sha)}{" "}
      <button
        type="button"
        className="fy-small"
        aria-label={`Copy sha256 ${sha}`}
        onClick={() => void copyText(sha).then(setCopied)}
      >
        {copied ? "Copied" : "Copy"}
      </button>
    </span>
  );
}

function FileTable({ files }: { files: ModelFile[] }) {
  return (
    <table className="fy-table">
      <thead>
        <tr>
          <th>name</th>
          <th>size</th>
          <th>sha256</th>
          <th>source</th>
          <th>on workers</th>
        </tr>
      </thead>
      <tbody>
        {files.map((f) => {
          const source = sourceLabel(f.source);
          const file = typeof f.source?.file === "string" ? f.source.file : null;
          return (
            <tr key={f.name} data-testid={`model-file-${f.name}`}>
              <td>
                <span className="fy-mono">{f.name}</span>{" "}
                {f.folder && (
                  <Badge tone="muted" title="A diffusers folder, listed as one entry">
                    folder
                  </Badge>
                )}
              </td>
              <td>{formatBytes(f.size_bytes)}</td>
              <td>
                {f.sha256 ? (
                  <CopySha sha={f.sha256} />
                ) : (
                  <span className="fy-muted" title="Hashed when a run first loads it">
                    not hashed yet
                  </span>
                )}
              </td>
              <td className="fy-small fy-mono" title={file ?? undefined}>
                {source ?? <span className="fy-muted">—</span>}
              </td>
              <td className="fy-small">{f.workers.join(", ") || "—"}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function Library({ files, query }: { files: Record<string, ModelFile[]>; query: string }) {
  const groups = groupFiles(files, query);
  if (!countFiles(files)) {
    return (
      <div className="fy-empty-state" data-testid="library-empty">
        <h3>No live worker lists a model file yet</h3>
        <p>
          Put weight files in <code>FLOWYARD_MODELS_DIR</code> (default <code>var/models</code>) in ComfyUI's layout,
          one folder per kind (<code>checkpoints/</code>, <code>loras/</code>, <code>vae/</code>…), or point{" "}
          <code>FLOWYARD_EXTRA_MODEL_PATHS</code> at an existing ComfyUI <code>extra_model_paths.yaml</code>.
        </p>
        <p>
          Workers list their library in their heartbeat about once a minute. See <DocsRef />.
        </p>
      </div>
    );
  }
  if (!groups.length) return <p className="fy-empty">No model files matching “{query}”.</p>;
  return (
    <>
      {groups.map((g) => (
        <section key={g.kind} data-testid={`kind-${g.kind}`}>
          <h3>
            {kindLabel(g.kind)}{" "}
            <span className="fy-muted fy-small">
              {g.kind}/ · {g.files.length}
            </span>
          </h3>
          <FileTable files={g.files} />
        </section>
      ))}
    </>
  );
}

function ModelScopeModels({ models, query }: { models: Model[]; query: string }) {
  const shown = filterModels(models, query);
  if (!models.length) return <p className="fy-empty">No worker holds a ModelScope model yet.</p>;
  if (!shown.length) return <p className="fy-empty">No ModelScope models matching “{query}”.</p>;
  return <ModelScopeTable models={shown} testId="modelscope-models" />;
}

function warmLabel(entry: unknown): string {
  if (entry && typeof entry === "object") {
    const e = entry as { kind?: unknown; key?: unknown; device?: unknown; size_bytes?: unknown };
    const what = e.kind === "object" && typeof e.key === "string" ? e.key : modelLabel(entry);
    const device = typeof e.device === "string" ? ` · ${e.device}` : "";
    const size = typeof e.size_bytes === "number" ? ` · ${formatBytes(e.size_bytes)}` : "";
    return `${what}${device}${size}`;
  }
  return modelLabel(entry);
}

// Inline style: the notice belongs to this page alone (CSP allows style attributes).
const NOTICE_STYLE = {
  background: "#3a2f1a",
  border: "1px solid #8a6b2c",
  borderRadius: 8,
  padding: "8px 12px",
  margin: "10px 0",
} as const;

/** Live workers without the models extra (torch...): their diffusion and ModelScope torch nodes fail, so say which
 * and how to install it rather than leave an empty page unexplained. */
export function ModelsExtraNotice({ workers }: { workers: Worker[] }) {
  const without = workers.filter(
    (w) => w.alive && w.capabilities.models_extra && !w.capabilities.models_extra.installed,
  );
  if (!without.length) return null;
  const missing = [...new Set(without.flatMap((w) => w.capabilities.models_extra?.missing ?? []))];
  return (
    <div role="status" style={NOTICE_STYLE} data-testid="models-extra-notice">
      <strong>Install the models extra to run models.</strong> {without.length === 1 ? "Worker" : "Workers"}{" "}
      {without.map((w) => w.name).join(", ")} cannot run diffusion nodes or ModelScope torch models:{" "}
      {missing.join(", ")} {missing.length === 1 ? "is" : "are"} not installed there. Install the models extra with{" "}
      <code>make install-models</code> (or <code>pip install &apos;flowyard[models]&apos;</code>) and restart{" "}
      {without.length === 1 ? "it" : "them"}; <code>make test</code> and <code>make bench</code> install it too.
    </div>
  );
}

/** Warm models per worker: only site admins' worker listings carry them, so others see nothing here. */
function WarmModels({ workers }: { workers: Worker[] }) {
  const reporting = workers.filter((w) => w.warm_models != null);
  if (!reporting.length) return null;
  return (
    <>
      <h2>Warm in memory</h2>
      <table className="fy-table" data-testid="warm-models">
        <thead>
          <tr>
            <th>worker</th>
            <th>warm models and objects (least recently used first)</th>
          </tr>
        </thead>
        <tbody>
          {reporting.map((w) => (
            <tr key={w.name}>
              <td>{w.name}</td>
              <td className="fy-small">
                {(w.warm_models ?? []).length ? (
                  (w.warm_models ?? []).map((m, i) => (
                    <div key={i} className="fy-mono">
                      {warmLabel(m)}
                    </div>
                  ))
                ) : (
                  <span className="fy-muted">none</span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

/** The fetch jobs, polled every POLL_MS while one is queued or running; `onFinished` when one ends. */
function useFetches(onFinished: () => void) {
  const fetches = usePolled(
    (signal) => modelsApi.fetches(signal),
    [],
    (jobs) => (jobs && fetchActive(jobs) ? POLL_MS : null),
  );
  const active = useRef<Set<number>>(new Set());
  useEffect(() => {
    if (!fetches.data) return;
    const nowActive = new Set(
      fetches.data.filter((j) => j.status === "queued" || j.status === "running").map((j) => j.id),
    );
    const ended = [...active.current].some((id) => !nowActive.has(id));
    active.current = nowActive;
    if (ended) onFinished();
  }, [fetches.data, onFinished]);
  return fetches;
}

const EMPTY_FORM: FetchRequest = {
  repo_id: "",
  file: "",
  kind: "checkpoints",
  revision: "",
  local_files_only: false,
  overwrite: false,
};

function FieldError({ error, field }: { error: unknown; field: string }) {
  if (!(error instanceof ApiError)) return null;
  const messages = error.fieldErrors(field);
  return messages.length ? (
    <span className="fy-form-error" role="alert">
      {messages.join(" ")}
    </span>
  ) : null;
}

function FetchForm({ onQueued }: { onQueued: () => void }) {
  const [form, setForm] = useState<FetchRequest>(EMPTY_FORM);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const set = <K extends keyof FetchRequest>(key: K, value: FetchRequest[K]) =>
    setForm((f) => ({ ...f, [key]: value }));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    modelsApi.fetch(form).then(
      () => {
        setBusy(false);
        setForm((f) => ({ ...EMPTY_FORM, kind: f.kind }));
        onQueued();
      },
      (exc: unknown) => {
        setBusy(false);
        setError(exc);
      },
    );
  };
  const fieldless = error instanceof ApiError ? error.errors.every((e) => !e.field) : error !== null;
  return (
    <form className="fy-form" aria-label="Fetch from ModelScope" onSubmit={submit}>
      <label>
        Repo id{" "}
        <input
          required
          placeholder="owner/name"
          value={form.repo_id}
          onChange={(e) => set("repo_id", e.target.value)}
        />
        <FieldError error={error} field="repo_id" />
      </label>
      <label>
        File in the repo{" "}
        <input
          placeholder="model.safetensors (blank with kind diffusers: the whole repo)"
          value={form.file}
          onChange={(e) => set("file", e.target.value)}
        />
        <FieldError error={error} field="file" />
      </label>
      <label>
        Kind{" "}
        <select value={form.kind} onChange={(e) => set("kind", e.target.value)}>
          {LIBRARY_KINDS.map((k) => (
            <option key={k} value={k}>
              {k}
            </option>
          ))}
        </select>
        <FieldError error={error} field="kind" />
      </label>
      <label>
        Revision{" "}
        <input
          required
          placeholder="a tag or commit (pinned)"
          value={form.revision}
          onChange={(e) => set("revision", e.target.value)}
        />
        <FieldError error={error} field="revision" />
      </label>
      <label>
        <input
          type="checkbox"
          checked={form.local_files_only}
          onChange={(e) => set("local_files_only", e.target.checked)}
        />{" "}
        From the ModelScope cache only (no download)
      </label>
      <label>
        <input type="checkbox" checked={form.overwrite} onChange={(e) => set("overwrite", e.target.checked)} /> Replace
        a file of that name
      </label>
      {fieldless && (
        <p className="fy-form-error" role="alert">
          {errorMessage(error)}
        </p>
      )}
      <button type="submit" disabled={busy}>
        {busy ? "Queuing…" : "Fetch"}
      </button>
    </form>
  );
}

const FETCH_TONES: Record<string, "ok" | "wait" | "error" | "muted"> = {
  queued: "muted",
  running: "wait",
  done: "ok",
  failed: "error",
};

function FetchJobs({ jobs }: { jobs: ModelFetch[] }) {
  if (!jobs.length) return <p className="fy-empty">No fetches yet.</p>;
  return (
    <table className="fy-table" data-testid="fetch-jobs">
      <thead>
        <tr>
          <th>what</th>
          <th>status</th>
          <th>result</th>
          <th>asked by</th>
        </tr>
      </thead>
      <tbody>
        {jobs.map((j) => (
          <tr key={j.id} data-testid={`fetch-${j.id}`}>
            <td>
              <span className="fy-mono">
                {j.repo_id}@{j.revision}
              </span>{" "}
              <span className="fy-small">{j.file || "(whole repo)"}</span>
              <div className="fy-muted fy-small">→ {j.kind}/</div>
            </td>
            <td>
              <Badge tone={FETCH_TONES[j.status] ?? "muted"}>{j.status}</Badge>
              {j.worker && <div className="fy-muted fy-small">{j.worker}</div>}
            </td>
            <td className="fy-small">
              {j.status === "done" && (
                <>
                  <span className="fy-mono">{j.name}</span> · {formatBytes(j.size_bytes)} · <CopySha sha={j.sha256} />
                </>
              )}
              {j.status === "failed" && <span className="fy-form-error">{j.error}</span>}
            </td>
            <td className="fy-small">
              {j.requested_by ?? "—"}
              <div className="fy-muted">{new Date(j.created).toLocaleString()}</div>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function FetchPanel({ onFetched }: { onFetched: () => void }) {
  const fetches = useFetches(onFetched);
  return (
    <section data-testid="fetch-panel">
      <h2>Fetch from ModelScope</h2>
      <p className="fy-hint">
        A worker (in embedded mode, this server) downloads one file of a ModelScope repo at a pinned revision into its
        library's kind folder and records its sha256 and source.
      </p>
      <FetchForm onQueued={fetches.refresh} />
      {fetches.data === null && fetches.error === null && <Loading what="fetches" />}
      {fetches.error !== null && (
        <p className="fy-form-error" role="alert">
          Could not load the fetches: {errorMessage(fetches.error)}
        </p>
      )}
      {fetches.data && <FetchJobs jobs={fetches.data} />}
    </section>
  );
}

function Models({ user }: { user: User }) {
  const [query, setQuery] = useState("");
  const models = useAsync((signal) => modelsApi.list(signal), []);
  const workers = useAsync((signal) => modelsApi.workers(signal), []);
  const admin = user.is_site_admin;
  return (
    <section className="fy-page fy-page-wide">
      <header className="fy-page-header">
        <h1>Models</h1>
        {models.status === "ready" && <span className="fy-muted">{countFiles(models.data.files)} library files</span>}
        <span className="fy-spacer" />
        <form role="search" onSubmit={(e) => e.preventDefault()}>
          <input
            type="search"
            aria-label="Search models"
            placeholder="name, sha256, source…"
            value={query}
            onChange={(e) => setQuery(e.target.value)}
          />
        </form>
        <button type="button" onClick={models.reload}>
          Refresh
        </button>
      </header>
      <p className="fy-hint">Weight files nodes load by name, as the live workers list them, by kind folder.</p>
      {workers.status === "ready" && <ModelsExtraNotice workers={workers.data} />}
      {models.status === "loading" && <Loading what="models" />}
      {models.status === "error" && (
        <ErrorState title="Could not load the models" error={models.error} onRetry={models.reload} />
      )}
      {models.status === "ready" && (
        <>
          <h2>Model library</h2>
          <Library files={models.data.files} query={query} />
          <h2>ModelScope models</h2>
          <ModelScopeModels models={models.data.results} query={query} />
        </>
      )}
      {workers.status === "ready" && <WarmModels workers={workers.data} />}
      {admin && <FetchPanel onFetched={models.reload} />}
    </section>
  );
}

export function ModelsPage() {
  return <RequireSignIn>{(user) => <Models user={user} />}</RequireSignIn>;
}
