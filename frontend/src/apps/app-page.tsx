// /apps/<slug>: a published app as a form (no graph): fill the exposed inputs, Run, watch progress, see the
// outputs in a gallery, and the app's run history. Editors also get the API section (keys, OpenAPI, curl).
import { useEffect, useRef, useState, type FormEvent } from "react";
import { Link, useParams } from "react-router";
import { ApiError, errorMessage } from "../api/client";
import { ErrorState, Loading } from "../app/status-views";
import { ApprovalPanel } from "../approvals/approval-panel";
import { useAsync } from "../app/use-async";
import { usePolled } from "../app/use-polled";
import { modelsApi } from "../models/models-api";
import { FileOutput, MediaOutput } from "../runs/media-output";
import type { RunState } from "../runs/run-state";
import { useLiveRun } from "../runs/runs-store";
import { hasSlider, initialValues, RANDOM, requestBody, type FormValues } from "./app-form";
import { AppApiSection } from "./app-api-section";
import { appsApi, FINISHED, type AppDetail, type AppRun, type FormInput } from "./apps-api";
import "./apps.css";

const POLL_MS = 400;

export function AppPage() {
  const { slug = "" } = useParams();
  const app = useAsync((signal) => appsApi.get(slug, signal), [slug]);
  if (app.status === "loading") return <Loading what="app" />;
  if (app.status === "error") return <ErrorState title="This app cannot be opened" error={app.error} />;
  return <AppView app={app.data} />;
}

function AppView({ app }: { app: AppDetail }) {
  const [values, setValues] = useState<FormValues>(() => initialValues(app.inputs));
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const [current, setCurrent] = useState<AppRun | null>(null);
  const [historyVersion, setHistoryVersion] = useState(0);
  const history = useAsync(() => appsApi.runs(app.slug), [app.slug, historyVersion]);
  const watched = usePolledRun(app.slug, current, () => setHistoryVersion((v) => v + 1));

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    appsApi.run(app.slug, requestBody(app.inputs, values)).then(
      (run) => {
        setCurrent(run);
        setBusy(false);
        setHistoryVersion((v) => v + 1);
      },
      (exc: unknown) => {
        setError(exc instanceof ApiError ? exc : new ApiError(0, errorMessage(exc)));
        setBusy(false);
      },
    );
  };
  const shown = watched ?? current;
  // Callers who may read the workflow's runs also follow the run's websocket (per-node progress as it happens);
  // everyone else sees the polled counts. Outputs always come from the app endpoint (signed URLs).
  const live = useLiveRun(app.can_open_graph && shown && !FINISHED.has(shown.status) ? shown.id : null);
  return (
    <div className="fy-page fy-app-page">
      <header className="fy-page-header">
        <h1>{app.title}</h1>
        {!app.enabled && <span className="fy-run-pill">unpublished</span>}
        {app.can_open_graph && <Link to={`/workflows/${app.workflow}`}>Open workflow (v{app.version})</Link>}
      </header>
      {app.description && <p className="fy-app-description">{app.description}</p>}
      <div className="fy-app-grid">
        <form className="fy-app-form" onSubmit={submit} aria-label="App inputs" noValidate>
          {app.inputs.map((input) => (
            <AppField
              key={input.name}
              slug={app.slug}
              input={input}
              value={values[input.name]}
              errors={error?.fieldErrors(input.name) ?? []}
              onChange={(value) => setValues((v) => ({ ...v, [input.name]: value }))}
            />
          ))}
          {error && (
            <p className="fy-form-error" role="alert">
              {error.detail}
            </p>
          )}
          <button type="submit" className="fy-primary" disabled={busy || !app.can_run}>
            {busy ? "Starting…" : "Run"}
          </button>
          {!app.can_run && <p className="fy-hint">Your role may view this app but not run it.</p>}
        </form>
        <section className="fy-app-result" aria-label="Result">
          {shown ? (
            <RunResult app={app} run={shown} live={live.state} />
          ) : (
            <p className="fy-empty">Fill the form and press Run.</p>
          )}
        </section>
      </div>
      <section className="fy-app-history" aria-label="Run history">
        <h2>Runs of this app</h2>
        {history.status === "ready" && !history.data.length && <p className="fy-empty">No runs yet.</p>}
        {history.status === "error" && <p className="fy-hint">{errorMessage(history.error)}</p>}
        {history.status === "ready" && history.data.length > 0 && (
          <ul className="fy-app-runs">
            {history.data.map((run) => (
              <li key={run.id}>
                <button
                  type="button"
                  className="fy-link"
                  onClick={() => appsApi.getRun(app.slug, run.id).then(setCurrent, () => undefined)}
                >
                  <span className={`fy-run-pill status-${run.status}`}>{run.status}</span>{" "}
                  {new Date(run.created).toLocaleString()}
                </button>{" "}
                <small className="fy-muted">{describeInputs(run.inputs)}</small>
              </li>
            ))}
          </ul>
        )}
      </section>
      {app.can_edit && <AppApiSection app={app} />}
    </div>
  );
}

function describeInputs(inputs: Record<string, unknown>): string {
  return Object.entries(inputs)
    .map(
      ([name, value]) =>
        `${name}=${typeof value === "string" && value.length > 24 ? `${value.slice(0, 24)}…` : String(value)}`,
    )
    .join(" · ");
}

/** Follow `run` until it finishes: GET /api/apps/<slug>/runs/<id> every POLL_MS (works for callers who may
 * not read the workflow's runs, e.g. runners of a private workflow and the public). */
function usePolledRun(slug: string, run: AppRun | null, onFinished: () => void): AppRun | null {
  const following = run && !FINISHED.has(run.status) ? run.id : null;
  const polled = usePolled(
    (signal) => (following === null ? Promise.resolve(null) : appsApi.getRun(slug, following, signal)),
    [slug, following],
    (next, error) =>
      following === null ? null : error ? POLL_MS * 5 : next && !FINISHED.has(next.status) ? POLL_MS : null,
  );
  const finished = useRef(onFinished);
  useEffect(() => {
    finished.current = onFinished;
  }, [onFinished]);
  const latest = polled.data;
  useEffect(() => {
    if (latest && latest.id === following && FINISHED.has(latest.status)) finished.current();
  }, [latest, following]);
  // The polled state belongs to the run shown; another run picked from the history starts from its own answer.
  return latest && run && latest.id === run.id ? latest : run;
}

/** Nodes finished of all, from the live state while it is ahead of the last polled answer. */
export function liveProgress(live: RunState | null, run: AppRun): { total: number; finished: number } {
  if (!live || live.runId !== run.id || !live.order.length) return run.progress;
  const done = live.order.filter((id) => {
    const status = live.nodes[id]?.status;
    return status !== undefined && status !== "queued" && status !== "running";
  }).length;
  return done >= run.progress.finished ? { total: live.order.length, finished: done } : run.progress;
}

function RunResult({ app, run, live }: { app: AppDetail; run: AppRun; live: RunState | null }) {
  const { total, finished } = liveProgress(live, run);
  const labels = new Map(app.outputs.map((o) => [o.name, o.label]));
  return (
    <div className="fy-app-run" data-run={run.id} data-status={run.status}>
      <p>
        <span className={`fy-run-pill status-${run.status}`}>{run.status}</span>{" "}
        <progress max={Math.max(total, 1)} value={finished} aria-label="Progress" /> {finished}/{total} nodes
      </p>
      {run.error && <p className="fy-form-error">{run.error}</p>}
      {app.can_open_graph && (run.status === "awaiting_approval" || run.status === "rejected") && (
        // Approvers are checked on the run itself: shown to callers who may read the workflow's runs.
        <ApprovalPanel runId={run.id} status={run.status} lastSeq={live?.runId === run.id ? live.lastSeq : 0} />
      )}
      {Object.entries(run.outputs).map(([name, items]) => (
        <figure key={name} className="fy-app-output" aria-label={`Output ${labels.get(name) ?? name}`}>
          <figcaption>{labels.get(name) ?? name}</figcaption>
          <div className="fy-app-gallery">
            {items.map((item) =>
              item.url && ["image", "video", "audio"].includes(item.kind) ? (
                <a key={item.id} href={item.url} target="_blank" rel="noreferrer">
                  <MediaOutput result={item} className="fy-app-media" />
                </a>
              ) : item.kind === "text" || item.kind === "json" ? (
                <pre key={item.id} className="fy-app-text">
                  {item.kind === "text" ? item.text : JSON.stringify(item.data, null, 2)}
                </pre>
              ) : (
                <FileOutput key={item.id} result={item} />
              ),
            )}
          </div>
        </figure>
      ))}
    </div>
  );
}

function AppField({
  slug,
  input,
  value,
  errors,
  onChange,
}: {
  slug: string;
  input: FormInput;
  value: unknown;
  errors: string[];
  onChange(value: unknown): void;
}) {
  const id = `app-input-${input.name}`;
  return (
    <div className="fy-app-field" data-input={input.name}>
      <label htmlFor={id}>{input.label}</label>
      <FieldControl id={id} slug={slug} input={input} value={value} onChange={onChange} />
      {input.help && <small className="fy-hint">{input.help}</small>}
      {errors.map((message) => (
        <small key={message} className="fy-form-error" role="alert">
          {message}
        </small>
      ))}
    </div>
  );
}

function FieldControl({
  id,
  slug,
  input,
  value,
  onChange,
}: {
  id: string;
  slug: string;
  input: FormInput;
  value: unknown;
  onChange(value: unknown): void;
}) {
  switch (input.kind) {
    case "image":
    case "file":
      return <FileField id={id} slug={slug} input={input} value={value} onChange={onChange} />;
    case "prompt":
      return <textarea id={id} rows={4} value={String(value ?? "")} onChange={(e) => onChange(e.target.value)} />;
    case "toggle":
      return <input id={id} type="checkbox" checked={Boolean(value)} onChange={(e) => onChange(e.target.checked)} />;
    case "seed":
      return <SeedField id={id} value={value} onChange={onChange} />;
    case "select":
      return <Choices id={id} options={(input.options ?? []).map(String)} value={value} onChange={onChange} />;
    case "model":
      return <ModelField id={id} input={input} value={value} onChange={onChange} />;
    case "number":
    case "integer": {
      const step = input.step ?? (input.kind === "integer" ? 1 : "any");
      const common = { min: input.min ?? undefined, max: input.max ?? undefined, step };
      const number = typeof value === "number" ? value : value === "" ? "" : Number(value);
      return (
        <div className="fy-app-number">
          {hasSlider(input) && (
            <input
              type="range"
              aria-label={`${input.label} slider`}
              {...common}
              value={number === "" ? (input.min ?? 0) : number}
              onChange={(e) => onChange(Number(e.target.value))}
            />
          )}
          <input
            id={id}
            type="number"
            {...common}
            value={number}
            onChange={(e) => onChange(e.target.value === "" ? "" : Number(e.target.value))}
          />
        </div>
      );
    }
    default:
      return <input id={id} type="text" value={String(value ?? "")} onChange={(e) => onChange(e.target.value)} />;
  }
}

function SeedField({ id, value, onChange }: { id: string; value: unknown; onChange(value: unknown): void }) {
  const random = value === RANDOM;
  return (
    <div className="fy-app-number">
      <label className="fy-check">
        <input
          type="checkbox"
          checked={random}
          onChange={(e) => onChange(e.target.checked ? RANDOM : 0)}
          aria-label="Random seed"
        />{" "}
        random
      </label>
      <input
        id={id}
        type="number"
        min={0}
        step={1}
        disabled={random}
        value={random ? "" : Number(value ?? 0)}
        onChange={(e) => onChange(Number(e.target.value))}
      />
    </div>
  );
}

function Choices({
  id,
  options,
  value,
  onChange,
}: {
  id: string;
  options: string[];
  value: unknown;
  onChange(value: unknown): void;
}) {
  const current = String(value ?? "");
  const all = current && !options.includes(current) ? [current, ...options] : options;
  return (
    <select id={id} value={current} onChange={(e) => onChange(e.target.value)}>
      {all.map((option) => (
        <option key={option} value={option}>
          {option}
        </option>
      ))}
    </select>
  );
}

/** A model picker: the widget's options, plus the model library's files of the folder it reads (/api/models),
 * when the caller may list them (signed-in users). */
function ModelField({
  id,
  input,
  value,
  onChange,
}: {
  id: string;
  input: FormInput;
  value: unknown;
  onChange(value: unknown): void;
}) {
  const folder = input.source?.startsWith("modelfiles.") ? input.source.slice("modelfiles.".length) : null;
  const models = useAsync((signal) => (folder ? modelsApi.list(signal) : Promise.resolve(null)), [folder]);
  const files =
    models.status === "ready" && models.data && folder ? (models.data.files[folder] ?? []).map((f) => f.name) : [];
  const options = [...new Set([...(input.options ?? []).map(String), ...files])];
  return <Choices id={id} options={options} value={value} onChange={onChange} />;
}

function FileField({
  id,
  slug,
  input,
  value,
  onChange,
}: {
  id: string;
  slug: string;
  input: FormInput;
  value: unknown;
  onChange(value: unknown): void;
}) {
  const [state, setState] = useState<{
    busy: boolean;
    error: string | null;
    name: string | null;
    preview: string | null;
  }>({ busy: false, error: null, name: null, preview: null });
  useEffect(() => () => void (state.preview && URL.revokeObjectURL(state.preview)), [state.preview]);
  const pick = (file: File | undefined) => {
    if (!file) return;
    const preview = input.kind === "image" ? URL.createObjectURL(file) : null;
    setState({ busy: true, error: null, name: file.name, preview });
    appsApi.upload(slug, file).then(
      (upload) => {
        onChange(upload.id);
        setState((s) => ({ ...s, busy: false, name: upload.name }));
      },
      (exc: unknown) => setState((s) => ({ ...s, busy: false, error: errorMessage(exc) })),
    );
  };
  return (
    <div className="fy-app-file">
      <input
        id={id}
        type="file"
        accept={input.kind === "image" ? "image/*" : undefined}
        onChange={(e) => pick(e.target.files?.[0])}
      />
      {state.preview && <img src={state.preview} alt="" className="fy-app-thumb" />}
      {state.busy && <small className="fy-hint">Uploading…</small>}
      {!state.busy && value !== null && value !== undefined && (
        <small className="fy-hint">Uploaded: {state.name}</small>
      )}
      {value === null && typeof input.default === "string" && (
        <small className="fy-hint">Default: {input.default}</small>
      )}
      {state.error && <small className="fy-form-error">{state.error}</small>}
    </div>
  );
}
