// /runs: runs the caller may see, newest first, filtered (mine / team / workflow / status), paginated. Filters
// live in the URL so a filtered list can be shared and survives a reload.
import { useEffect } from "react";
import { Link, useSearchParams } from "react-router";
import { workflows, workspaces } from "../api/endpoints";
import { useSession } from "../app/session";
import { ErrorState, Loading } from "../app/status-views";
import { useAsync } from "../app/use-async";
import { runStatusSchema, type Run } from "./run-schemas";
import { runsApi } from "./runs-api";
import { useFeed, useWorkspaceFeed } from "./runs-store";
import { formatSeconds } from "./timeline";
import "./runs.css";

export const PAGE_SIZE = 25;

export function RunRow({ run, workflowName }: { run: Run; workflowName?: string | undefined }) {
  return (
    <tr>
      <td>
        <Link to={`/runs/${run.id}`} className="fy-mono">
          {run.id.slice(0, 8)}
        </Link>
      </td>
      <td>
        <span className={`fy-run-pill status-${run.status}`}>{run.status}</span>
        {run.status === "queued" && run.queue_position !== null && (
          <span className="fy-muted"> #{run.queue_position + 1}</span>
        )}
      </td>
      <td>
        {run.workflow !== null ? (
          <Link to={`/workflows/${run.workflow}`}>
            {workflowName ?? `workflow ${run.workflow}`}
            {run.workflow_version !== null ? ` v${run.workflow_version}` : ""}
          </Link>
        ) : (
          <span className="fy-muted">graph ({run.source})</span>
        )}
      </td>
      <td>{run.created_by?.username ?? "—"}</td>
      <td title={run.created}>{new Date(run.created).toLocaleString()}</td>
      <td>{run.duration !== null ? formatSeconds(run.duration) : "—"}</td>
      <td className="fy-error-cell">{run.error}</td>
    </tr>
  );
}

export function RunHistoryPage() {
  const { session } = useSession();
  const [params, setParams] = useSearchParams();
  const scope = params.get("scope") ?? "mine"; // mine | all | <workspace id>
  const workflow = params.get("workflow") ?? "";
  const statusParam = params.get("status") ?? "";
  const status = runStatusSchema.safeParse(statusParam).success ? runStatusSchema.parse(statusParam) : undefined;
  const page = Math.max(0, Number(params.get("page") ?? 0) || 0);
  useWorkspaceFeed(session.status === "signed-in" ? session.user.id : null);
  const feedVersion = useFeed((f) => f.version);

  const spaces = useAsync(() => workspaces.list(), []);
  const flows = useAsync(() => workflows.list(), []);
  const list = useAsync(
    (signal) =>
      runsApi.list(
        {
          mine: scope === "mine",
          workspace: /^\d+$/.test(scope) ? Number(scope) : undefined,
          workflow: workflow ? Number(workflow) : undefined,
          status,
          limit: PAGE_SIZE,
          offset: page * PAGE_SIZE,
        },
        signal,
      ),
    [scope, workflow, status, page],
  );
  const { reload } = list;
  // Statuses move (ws/events/): refresh the page, at most every two seconds.
  useEffect(() => {
    if (feedVersion === 0) return;
    const t = setTimeout(reload, 2000);
    return () => clearTimeout(t);
  }, [feedVersion, reload]);

  const set = (key: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    if (key !== "page") next.delete("page");
    setParams(next);
  };
  const names = new Map((flows.status === "ready" ? flows.data : []).map((w) => [w.id, w.name]));

  return (
    <section className="fy-runs-page">
      <header>
        <h1>Runs</h1>
      </header>
      <div className="fy-filters" role="group" aria-label="Filters">
        <label>
          Whose{" "}
          <select
            value={scope}
            onChange={(e) => set("scope", e.target.value === "mine" ? "" : e.target.value)}
            aria-label="Whose runs"
          >
            <option value="mine">Mine</option>
            <option value="all">Everything I can see</option>
            {spaces.status === "ready" &&
              spaces.data
                .filter((w) => w.kind === "team")
                .map((w) => (
                  <option key={w.id} value={String(w.id)}>
                    Team: {w.name}
                  </option>
                ))}
          </select>
        </label>
        <label>
          Workflow{" "}
          <select value={workflow} onChange={(e) => set("workflow", e.target.value)} aria-label="Workflow">
            <option value="">Any</option>
            {flows.status === "ready" &&
              flows.data.map((w) => (
                <option key={w.id} value={String(w.id)}>
                  {w.name}
                </option>
              ))}
          </select>
        </label>
        <label>
          Status{" "}
          <select value={status ?? ""} onChange={(e) => set("status", e.target.value)} aria-label="Status">
            <option value="">Any</option>
            {runStatusSchema.options.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
      </div>
      {list.status === "loading" ? (
        <Loading what="runs" />
      ) : list.status === "error" ? (
        <ErrorState title="Could not load runs" error={list.error} onRetry={list.reload} />
      ) : list.data.count === 0 ? (
        <div className="fy-empty-state">
          <h2>No runs {scope === "mine" && !workflow && !status ? "yet" : "match these filters"}</h2>
          <p>Open a workflow and press Run (Ctrl+Enter); its progress and outputs show here.</p>
          <Link className="fy-button" to="/">
            Go to workflows
          </Link>
        </div>
      ) : (
        <>
          <table className="fy-table">
            <thead>
              <tr>
                <th>Run</th>
                <th>Status</th>
                <th>Workflow</th>
                <th>By</th>
                <th>Created</th>
                <th>Duration</th>
                <th>Error</th>
              </tr>
            </thead>
            <tbody>
              {list.data.results.map((r) => (
                <RunRow key={r.id} run={r} workflowName={r.workflow !== null ? names.get(r.workflow) : undefined} />
              ))}
            </tbody>
          </table>
          <nav className="fy-pager" aria-label="Pages">
            <button type="button" disabled={!list.data.previous} onClick={() => set("page", String(page - 1))}>
              ← Newer
            </button>
            <span className="fy-muted">
              {page * PAGE_SIZE + 1}–{page * PAGE_SIZE + list.data.results.length} of {list.data.count}
            </span>
            <button type="button" disabled={!list.data.next} onClick={() => set("page", String(page + 1))}>
              Older →
            </button>
          </nav>
        </>
      )}
    </section>
  );
}
