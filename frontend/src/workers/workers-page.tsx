// /workers: the worker registry (auto-refreshed) and the models workers hold. Members see capabilities; site
// admins also see host, process, current runs and warm models (docs/permissions.md "Workers and models").
import { useState } from "react";
import { Link } from "react-router";
import { errorMessage } from "../api/client";
import type { User } from "../api/schemas";
import { RequireSignIn } from "../app/require-sign-in";
import { ErrorState, Loading } from "../app/status-views";
import { useAsync } from "../app/use-async";
import { usePolled } from "../app/use-polled";
import { Badge } from "../packs/pack-widgets";
import { formatBytes, heartbeatAge, modelLabel, sortWorkers, workerState } from "./worker-format";
import { ModelScopeTable } from "./modelscope-table";
import type { Worker } from "./worker-schemas";
import { workersApi } from "./workers-api";

export const REFRESH_MS = 5000;
/** Packs that ship with Flowyard (reserved names, backend/registry/actions.py): no marketplace page. */
const BUILTIN_PACKS = new Set(["core", "modelscope"]);

/** How uploaded packs run on a worker: sandboxed, refused (no sandbox) or unconfined (the admin's choice). */
export function SandboxBadge({ sandbox }: { sandbox: Worker["capabilities"]["pack_sandbox"] }) {
  if (!sandbox) return null;
  const label = sandbox.secure
    ? "packs sandboxed"
    : sandbox.mode === "unavailable"
      ? "uploaded packs refused: no sandbox"
      : "packs UNSANDBOXED";
  return (
    <div data-testid="pack-sandbox">
      <Badge tone={sandbox.secure ? "ok" : "error"} title={sandbox.reason}>
        {label}
      </Badge>
    </div>
  );
}

/** A worker without the models extra cannot run diffusion or ModelScope torch models: say so, and how to fix it. */
export function ModelsExtraBadge({ extra }: { extra: Worker["capabilities"]["models_extra"] }) {
  if (!extra || extra.installed) return null;
  return (
    <div data-testid="models-extra-missing">
      <Badge
        tone="error"
        title={`Missing: ${extra.missing.join(", ")}. Install the models extra on this worker: make install-models`}
      >
        no models extra: install it (make install-models)
      </Badge>
    </div>
  );
}

function WorkerRow({ w, admin, now }: { w: Worker; admin: boolean; now: number }) {
  const state = workerState(w);
  const caps = w.capabilities;
  const gpus = caps.gpus ?? [];
  const packs = Object.entries(caps.packs ?? {});
  return (
    <tr data-testid={`worker-${w.name}`}>
      <td>
        <strong>{w.name}</strong>
        <div className="fy-muted fy-small">
          {w.kind}
          {admin && w.hostname ? ` · ${w.hostname}${w.pid ? ` (pid ${w.pid})` : ""}` : ""}
        </div>
      </td>
      <td>
        <Badge tone={state.tone} title={state.hint}>
          {state.label}
        </Badge>
      </td>
      <td>{w.queues.join(", ") || "—"}</td>
      <td className="fy-small">
        {caps.cpu_count ?? "?"} CPU · {formatBytes(caps.memory_bytes)} RAM · {w.concurrency ?? "?"} at once
        <div>
          {gpus.length ? (
            gpus.map((g, i) => (
              <Badge key={i} tone="wait">
                GPU {g.name}
                {g.memory_bytes ? ` ${formatBytes(g.memory_bytes)}` : ""}
              </Badge>
            ))
          ) : (
            <span className="fy-muted">no GPU</span>
          )}
        </div>
        <SandboxBadge sandbox={caps.pack_sandbox} />
        <ModelsExtraBadge extra={caps.models_extra} />
      </td>
      <td className="fy-small">
        {packs.length ? (
          packs.map(([name, version]) => (
            <div key={name}>
              {BUILTIN_PACKS.has(name) ? name : <Link to={`/packs/${encodeURIComponent(name)}`}>{name}</Link>}{" "}
              <span className="fy-mono fy-muted">{version}</span>
            </div>
          ))
        ) : (
          <span className="fy-muted">—</span>
        )}
      </td>
      {admin && (
        <td className="fy-small">
          {(w.warm_models ?? []).length ? (
            (w.warm_models ?? []).map((m, i) => (
              <div key={i} className="fy-mono">
                {modelLabel(m)}
              </div>
            ))
          ) : (
            <span className="fy-muted">none</span>
          )}
        </td>
      )}
      {admin && (
        <td className="fy-small">
          {(w.current_runs ?? []).length ? (
            (w.current_runs ?? []).map((id) => (
              <div key={id}>
                <Link to={`/runs/${id}`} className="fy-mono">
                  {id.slice(0, 8)}
                </Link>
              </div>
            ))
          ) : (
            <span className="fy-muted">—</span>
          )}
        </td>
      )}
      <td title={w.last_heartbeat ?? ""}>{heartbeatAge(w.last_heartbeat, now)}</td>
    </tr>
  );
}

function Models() {
  const models = useAsync(() => workersApi.models(), []);
  if (models.status === "loading") return <Loading what="models" />;
  if (models.status === "error")
    return <ErrorState title="Could not load the models" error={models.error} onRetry={models.reload} />;
  if (!models.data.length) {
    return (
      <p className="fy-empty">
        No worker holds a model yet. Workers download the models packs declare when a run first needs them.
      </p>
    );
  }
  return <ModelScopeTable models={models.data} framework />;
}

function Workers({ user }: { user: User }) {
  const [status, setStatus] = useState("");
  // Refreshed every REFRESH_MS while the tab is visible; a failed refresh keeps the last good list.
  const list = usePolled(
    (signal) => workersApi.list(status, signal),
    [status],
    () => REFRESH_MS,
  );
  const admin = user.is_site_admin;
  const now = list.at || 0;
  const workers = list.data ? sortWorkers(list.data) : null;
  const online = workers?.filter((w) => w.status === "online").length ?? 0;
  return (
    <section className="fy-page fy-page-wide">
      <header className="fy-page-header">
        <h1>Workers</h1>
        {workers && (
          <span className="fy-muted">
            {online} online of {workers.length}
          </span>
        )}
        <span className="fy-spacer" />
        <label>
          Status{" "}
          <select aria-label="Status" value={status} onChange={(e) => setStatus(e.target.value)}>
            <option value="">all</option>
            <option value="online">online</option>
            <option value="lost">lost</option>
            <option value="stopped">stopped</option>
          </select>
        </label>
        <button type="button" onClick={list.refresh}>
          Refresh
        </button>
      </header>
      <p className="fy-hint">
        Processes that execute runs. The list refreshes every {REFRESH_MS / 1000} seconds
        {list.at ? ` (last ${new Date(list.at).toLocaleTimeString()})` : ""}.
        {admin ? "" : " Host names, current runs and warm models are shown to site admins only."}
      </p>
      {list.error !== null && workers && (
        <p className="fy-form-error" role="alert">
          Refresh failed: {errorMessage(list.error)}. Showing the last list.
        </p>
      )}
      {!workers && list.error === null && <Loading what="workers" />}
      {!workers && list.error !== null && (
        <ErrorState title="Could not load the workers" error={list.error} onRetry={list.refresh} />
      )}
      {workers &&
        (workers.length ? (
          <table className="fy-table fy-workers">
            <thead>
              <tr>
                <th>worker</th>
                <th>status</th>
                <th>queues</th>
                <th>capacity</th>
                <th>packs</th>
                {admin && <th>warm models</th>}
                {admin && <th>current runs</th>}
                <th>heartbeat</th>
              </tr>
            </thead>
            <tbody>
              {workers.map((w) => (
                <WorkerRow key={w.name} w={w} admin={admin} now={now} />
              ))}
            </tbody>
          </table>
        ) : (
          <div className="fy-empty-state">
            <h2>{status ? `No ${status} workers` : "No workers have registered"}</h2>
            <p>
              Start one with <code>celery -A backend worker</code>, or run the server with the embedded worker (the
              default).
            </p>
          </div>
        ))}
      <h2>Models</h2>
      <Models />
    </section>
  );
}

export function WorkersPage() {
  return <RequireSignIn>{(user) => <Workers user={user} />}</RequireSignIn>;
}
