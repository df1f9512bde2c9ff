// /runs/:id: the run's exact current state (detail + live events), per-node table, logs and tracebacks,
// outputs with downloads, the timeline, and the actions: re-run, resume from failure, cancel, delete.
import { useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { errorMessage } from "../api/client";
import { useSession } from "../app/session";
import { ErrorState, Loading } from "../app/status-views";
import { ApprovalPanel } from "../approvals/approval-panel";
import { FileOutput, isShownMedia, isTextual, MediaOutput } from "./media-output";
import { RunTimeline } from "./run-timeline";
import { FINISHED } from "./run-schemas";
import { isFinished, type NodeState, type Requeue } from "./run-state";
import { runsApi } from "./runs-api";
import { queuePosition, refreshRun, useFeed, useLiveRun, useWorkspaceFeed } from "./runs-store";
import { formatSeconds, timelineInputs } from "./timeline";
import "./runs.css";

function NodeRow({ node }: { node: NodeState }) {
  return (
    <tr>
      <td className="fy-mono">#{node.id}</td>
      <td>{node.type}</td>
      <td>
        <span className={`fy-run-pill status-${node.status}`}>{node.status}</span>
        {node.status === "running" && node.progress && (
          <span className="fy-muted">
            {" "}
            {Math.round(node.progress.value)}/{Math.round(node.progress.max)}
          </span>
        )}
      </td>
      <td>{node.duration !== null ? formatSeconds(node.duration) : "—"}</td>
      <td>{node.status === "cached" ? "yes" : ""}</td>
      <td>
        {node.retry && node.status === "running" && (
          <span className="fy-node-retry">
            retrying (attempt {node.retry.attempt} of {node.retry.attempts}) after {node.retry.error}
          </span>
        )}
        {node.error && (
          <>
            <strong>{node.errorType || "Error"}:</strong> {node.error}
          </>
        )}
        {node.traceback && (
          <details>
            <summary>Traceback</summary>
            <pre>{node.traceback}</pre>
          </details>
        )}
        {node.outputs.length > 0 && !node.error && (
          <span className="fy-muted">{node.outputs.map((o) => o.summary || o.name).join(", ")}</span>
        )}
      </td>
    </tr>
  );
}

const REQUEUE_REASONS: Record<string, string> = {
  worker_lost: "its worker stopped answering",
  worker_stopped: "its worker shut down",
  worker_process_lost: "the process executing it died (out of memory?)",
  stalled: "it stopped making progress",
};

/** Why and how often a run was put back in the queue (`run_requeued`, or `attempts` after a reload). */
export function describeAttempts(requeued: Requeue | null, attempts: number): string {
  if (!requeued) return `${attempts}: its worker was lost and it resumed from the shared cache`;
  const of = requeued.maxAttempts ? ` of ${requeued.maxAttempts}` : "";
  const why = REQUEUE_REASONS[requeued.reason] ?? requeued.reason;
  const where = requeued.worker ? `taken over by ${requeued.worker}` : "back in the queue";
  return `${requeued.attempt}${of}: ${why}${requeued.previousWorker ? ` (${requeued.previousWorker})` : ""}, ${where}; finished nodes come from the shared cache`;
}

export function RunDetailPage() {
  const { id = "" } = useParams();
  const { session } = useSession();
  useWorkspaceFeed(session.status === "signed-in" ? session.user.id : null);
  const { state, detail, connection, error } = useLiveRun(id || null);
  const position = useFeed((f) => queuePosition(f, id));
  const navigate = useNavigate();
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<string | null>(null);

  if (!detail && error)
    return <ErrorState title="Could not open this run" error={new Error(error)} onRetry={() => refreshRun(id)} />;
  if (!state || !detail) return <Loading what="the run" />;

  const act = async (what: () => Promise<unknown>) => {
    setBusy(true);
    setActionError(null);
    try {
      await what();
    } catch (exc) {
      setActionError(errorMessage(exc));
    } finally {
      setBusy(false);
    }
  };
  const finished = isFinished(state);
  const nodes = state.order.map((n) => state.nodes[n]!).filter(Boolean);
  const results = nodes.flatMap((n) => n.results);
  const images = results.filter(isShownMedia);
  const files = results.filter((r) => r.kind === "file" && r.url);
  const texts = results.filter(isTextual);
  const logs = nodes.filter((n) => n.error || n.traceback);
  const canResume = state.status === "failed" || state.status === "cancelled" || state.status === "rejected";

  return (
    <section className="fy-runs-page">
      <header>
        <Link to="/runs">← Runs</Link>
        <h1>Run {detail.id.slice(0, 8)}</h1>
        <span className={`fy-run-pill status-${state.status}`}>
          {detail.cancel_requested && !finished ? "cancelling" : state.status}
        </span>
        {connection === "waiting" && <span className="fy-muted">reconnecting…</span>}
        <span className="fy-spacer" />
        {!finished && (
          <button
            type="button"
            disabled={busy || detail.cancel_requested}
            onClick={() => void act(async () => (await runsApi.cancel(id), refreshRun(id)))}
          >
            Cancel
          </button>
        )}
        <button
          type="button"
          disabled={busy}
          onClick={() => void act(async () => navigate(`/runs/${(await runsApi.rerun(id)).id}`))}
        >
          Re-run
        </button>
        {canResume && (
          <button
            type="button"
            disabled={busy}
            title="Run again; nodes that finished come from the cache"
            onClick={() => void act(async () => navigate(`/runs/${(await runsApi.resume(id)).id}`))}
          >
            Resume from failure
          </button>
        )}
        {finished && (
          <button
            type="button"
            disabled={busy}
            onClick={() => {
              if (window.confirm("Delete this run, its log and its outputs?"))
                void act(async () => (await runsApi.remove(id), navigate("/runs")));
            }}
          >
            Delete
          </button>
        )}
      </header>
      {actionError && (
        <p className="fy-field-error" role="alert">
          {actionError}
        </p>
      )}
      <dl className="fy-run-meta">
        <dt>Workflow</dt>
        <dd>
          {detail.workflow !== null ? (
            <Link to={`/workflows/${detail.workflow}`}>
              workflow {detail.workflow}
              {detail.workflow_version !== null ? ` v${detail.workflow_version}` : ""}
            </Link>
          ) : (
            `a graph sent by ${detail.source === "api" ? "an API client" : "the editor"}`
          )}
        </dd>
        <dt>By</dt>
        <dd>{detail.created_by?.username ?? "—"}</dd>
        <dt>Created</dt>
        <dd>{new Date(detail.created).toLocaleString()}</dd>
        {state.status === "queued" && (
          <>
            <dt>Queue</dt>
            <dd>{position ?? detail.queue_position ?? 0} run(s) ahead</dd>
          </>
        )}
        <dt>Duration</dt>
        <dd>
          {state.summary?.duration != null
            ? formatSeconds(state.summary.duration)
            : detail.duration !== null
              ? formatSeconds(detail.duration)
              : "—"}
        </dd>
        {state.summary && (
          <>
            <dt>Nodes</dt>
            <dd>
              {state.summary.executed} executed, {state.summary.cached} cached, {state.summary.failed.length} failed
            </dd>
          </>
        )}
        {detail.rerun_of && (
          <>
            <dt>Re-run of</dt>
            <dd>
              <Link to={`/runs/${detail.rerun_of}`}>{detail.rerun_of.slice(0, 8)}</Link>
            </dd>
          </>
        )}
        {Object.keys(detail.packs).length > 0 && (
          <>
            <dt>Node packs</dt>
            <dd data-testid="run-packs">
              {Object.entries(detail.packs)
                .sort(([a], [b]) => a.localeCompare(b))
                .map(([name, version]) => (
                  <Link key={name} to={`/packs/${name}`} className="fy-run-pack">
                    {name} {version}
                  </Link>
                ))}
            </dd>
          </>
        )}
        {(state.requeued || detail.attempts > 1) && (
          <>
            <dt>Attempts</dt>
            <dd data-testid="run-attempts">{describeAttempts(state.requeued, detail.attempts)}</dd>
          </>
        )}
        {(state.error || detail.error) && (
          <>
            <dt>Error</dt>
            <dd className="fy-field-error">{state.error || detail.error}</dd>
          </>
        )}
      </dl>

      <ApprovalPanel runId={id} status={state.status} lastSeq={state.lastSeq} />

      <h2>Timeline</h2>
      <RunTimeline
        rows={timelineInputs(state)}
        runStart={state.started}
        runEnd={state.finished}
        running={!FINISHED.has(state.status)}
      />

      <h2>Nodes</h2>
      <table className="fy-table">
        <thead>
          <tr>
            <th>Node</th>
            <th>Type</th>
            <th>Status</th>
            <th>Duration</th>
            <th>Cached</th>
            <th>Error / outputs</th>
          </tr>
        </thead>
        <tbody>
          {nodes.map((n) => (
            <NodeRow key={n.id} node={n} />
          ))}
        </tbody>
      </table>

      <h2>Outputs</h2>
      {images.length === 0 && texts.length === 0 && files.length === 0 ? (
        <p className="fy-muted">{finished ? "This run produced no outputs." : "Outputs appear as nodes finish."}</p>
      ) : (
        <div className="fy-run-outputs">
          {images.map((r) => (
            <figure key={r.id}>
              {r.kind === "image" ? (
                <a href={r.url!} target="_blank" rel="noreferrer">
                  <MediaOutput result={r} />
                </a>
              ) : (
                <MediaOutput result={r} />
              )}
              <figcaption>
                <span title={`node #${r.node_id}`}>{r.filename}</span>
                <a href={r.url!} download={r.filename ?? true}>
                  Download
                </a>
              </figcaption>
            </figure>
          ))}
          {files.map((r) => (
            <figure key={r.id}>
              <FileOutput result={r} />
              <figcaption>node #{r.node_id}</figcaption>
            </figure>
          ))}
          {texts.map((r) => (
            <figure key={r.id}>
              <pre className="fy-node-text">{r.kind === "json" ? JSON.stringify(r.data, null, 2) : r.text}</pre>
              <figcaption>node #{r.node_id}</figcaption>
            </figure>
          ))}
        </div>
      )}

      <h2>Logs</h2>
      {logs.length === 0 ? (
        <p className="fy-muted">No errors.</p>
      ) : (
        logs.map((n) => (
          <details key={n.id} open>
            <summary>
              #{n.id} {n.type}: {n.errorType} {n.error}
            </summary>
            {n.traceback ? (
              <pre className="fy-node-text">{n.traceback}</pre>
            ) : (
              <p className="fy-muted">The node reported this error itself; there is no traceback.</p>
            )}
          </details>
        ))
      )}
    </section>
  );
}
