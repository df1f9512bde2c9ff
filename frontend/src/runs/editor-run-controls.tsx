// The editor's run controls: the Run button (and Ctrl+Enter through the canvas' onRun), the run sidebar with
// the active run, my queue (positions from ws/events/, cancel) and the gallery of this workflow's outputs.
import { useCallback, useEffect, useMemo, useState } from "react";
import { Link } from "react-router";
import { errorMessage } from "../api/client";
import type { WorkflowDetail } from "../api/schemas";
import { useSession } from "../app/session";
import { usePolled } from "../app/use-polled";
import { useEditorStoreApi } from "../editor/store-context";
import {
  createEditorRunsStore,
  queueRun,
  useEditorRuns,
  useEditorRunsStore,
  type EditorRunsStore,
} from "./editor-runs";
import { MediaOutput } from "./media-output";
import { imagesOf, stateFromDetail } from "./run-state";
import { FINISHED, type RunResult } from "./run-schemas";
import { runsApi } from "./runs-api";
import { queuePosition, refreshRun, useFeed, useLiveRun, useWorkspaceFeed } from "./runs-store";
import "./runs.css";

export interface EditorRunner {
  store: EditorRunsStore;
  onRun(): void;
}

/** The run state of one editor; `version` is the saved version the editor's savedGraph holds. */
export function useEditorRunner(
  workflow: Pick<WorkflowDetail, "id" | "workspace"> | null,
  version: number | null,
): EditorRunner {
  const editor = useEditorStoreApi();
  const { session } = useSession();
  const userId = session.status === "signed-in" ? session.user.id : null;
  const workspace = workflow?.workspace ?? (session.status === "signed-in" ? session.user.personal_workspace.id : null);
  const [store] = useState(() => createEditorRunsStore(workspace));
  useEffect(() => store.setState({ workspaceId: workspace }), [store, workspace]);
  useWorkspaceFeed(userId);
  // Reopening a workflow shows my latest run of it on the canvas (its exact state: detail + replay).
  const workflowId = workflow?.id ?? null;
  useEffect(() => {
    if (workflowId === null || userId === null) return;
    const controller = new AbortController();
    runsApi.list({ mine: true, workflow: workflowId, limit: 1 }, controller.signal).then(
      (page) => {
        const latest = page.results[0];
        if (latest && store.getState().activeRunId === null) store.getState().show(latest.id);
      },
      () => undefined,
    );
    return () => controller.abort();
  }, [store, workflowId, userId]);
  const onRun = useCallback(() => {
    const ws = store.getState().workspaceId;
    if (ws === null) {
      editor.getState().notify("error", "Sign in to run workflows.");
      return;
    }
    void queueRun(editor, store, {
      workflow: workflow ? { id: workflow.id, workspace: workflow.workspace } : null,
      version,
      fallbackWorkspace: ws,
    });
  }, [editor, store, workflow, version]);
  return { store, onRun };
}

/** The Run button; `blockedReason` (the caller's role may not run) disables it and says why in its tooltip. */
export function RunButton({ runner, blockedReason = null }: { runner: EditorRunner; blockedReason?: string | null }) {
  const submitting = useEditorRuns((s) => s.submitting > 0);
  return (
    <button
      type="button"
      className="fy-run-button"
      onClick={runner.onRun}
      title={blockedReason ?? "Queue a run (Ctrl+Enter). Press again to queue more."}
      disabled={submitting || blockedReason !== null}
    >
      {submitting ? "Queueing…" : "▶ Run"}
    </button>
  );
}

function statusLabel(run: { status: string; cancel_requested?: boolean }): string {
  return run.cancel_requested && run.status === "running" ? "cancelling" : run.status;
}

function ActiveRun() {
  const runId = useEditorRuns((s) => s.activeRunId);
  const general = useEditorRuns((s) => s.generalErrors);
  const { state, detail, connection, error } = useLiveRun(runId);
  const position = useFeed((f) => (runId ? queuePosition(f, runId) : null));
  if (!runId) {
    return (
      <section className="fy-run-active">
        {general.length > 0 && <p className="fy-field-error">{general.join(" ")}</p>}
        <p className="fy-muted">No run yet. Press Run or Ctrl+Enter.</p>
      </section>
    );
  }
  const nodes = state ? state.order.map((id) => state.nodes[id]!) : [];
  const done = nodes.filter((n) => ["succeeded", "cached", "failed", "skipped", "cancelled"].includes(n.status)).length;
  const status = state?.status ?? detail?.status ?? "queued";
  return (
    <section className="fy-run-active" aria-label="Current run">
      <header>
        <span className={`fy-run-pill status-${status}`}>{status}</span>
        <Link to={`/runs/${runId}`}>details</Link>
        {connection === "waiting" && (
          <span className="fy-muted" title="Reconnecting; nothing is lost">
            reconnecting…
          </span>
        )}
      </header>
      {status === "queued" && position !== null && <p>Position {position + 1} in the queue.</p>}
      {nodes.length > 0 && (
        <div className="fy-progress" aria-label="Run progress">
          <div className="fy-progress-fill" style={{ width: `${(100 * done) / nodes.length}%` }} />
          <span className="fy-progress-text">
            {done}/{nodes.length} nodes
          </span>
        </div>
      )}
      {state?.error && <p className="fy-field-error">{state.error}</p>}
      {error && <p className="fy-field-error">{error}</p>}
    </section>
  );
}

/** Resolve after `ms`, or reject when `signal` aborts first. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });
}

function QueuePanel({ store }: { store: EditorRunsStore }) {
  const version = useFeed((f) => f.version);
  const feed = useFeed((f) => f.queues);
  // Loaded again when the feed's version moves (never on a timer); the last good list stays shown meanwhile.
  const list = usePolled(
    async (signal) => {
      await pause(150, signal); // a burst of status messages → one fetch
      const [running, queued] = await Promise.all([
        runsApi.list({ mine: true, status: "running", limit: 20 }, signal),
        runsApi.list({ mine: true, status: "queued", limit: 50 }, signal),
      ]);
      return [...running.results, ...queued.results.reverse()];
    },
    [version],
    () => null,
  );
  const runs = list.data;
  const [busy, setBusy] = useState<string | null>(null);
  const [cancelError, setCancelError] = useState<string | null>(null);
  const error = cancelError ?? (list.error ? errorMessage(list.error) : null);
  const activeRunId = useEditorRuns((s) => s.activeRunId);
  const statuses = useFeed((f) => f.statuses);
  // The feed is newer than the last fetch: drop runs it says have finished, show the status it announced.
  const shown = useMemo(
    () =>
      (runs ?? []).flatMap((r) => {
        const live = statuses[r.id];
        if (!live) return [r];
        return FINISHED.has(live.status) ? [] : [{ ...r, status: live.status }];
      }),
    [runs, statuses],
  );
  const positions = useMemo(() => {
    const map = new Map<string, number>();
    for (const list of Object.values(feed)) for (const r of list) map.set(r.id, r.position);
    return map;
  }, [feed]);
  const cancel = async (id: string) => {
    setBusy(id);
    try {
      await runsApi.cancel(id);
      refreshRun(id);
    } catch (exc) {
      setCancelError(errorMessage(exc));
    } finally {
      setBusy(null);
    }
  };
  return (
    <section aria-label="My queue">
      <h3>My queue</h3>
      {error && <p className="fy-field-error">{error}</p>}
      {runs === null ? (
        <p className="fy-muted">Loading…</p>
      ) : shown.length === 0 ? (
        <p className="fy-muted">Nothing queued or running.</p>
      ) : (
        <ul className="fy-queue">
          {shown.map((r) => {
            const pos = positions.get(r.id) ?? r.queue_position;
            return (
              <li key={r.id} className={r.id === activeRunId ? "active" : ""}>
                <button
                  type="button"
                  className="fy-link"
                  onClick={() => store.getState().show(r.id)}
                  title="Show this run on the canvas"
                >
                  {r.id.slice(0, 8)}
                </button>
                <span className={`fy-run-pill status-${r.status}`}>{statusLabel(r)}</span>
                {r.status === "queued" && pos !== null && <span className="fy-muted">#{pos + 1}</span>}
                <button
                  type="button"
                  onClick={() => void cancel(r.id)}
                  disabled={busy === r.id || r.cancel_requested}
                  aria-label={`Cancel run ${r.id.slice(0, 8)}`}
                >
                  Cancel
                </button>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}

const GALLERY_RUNS = 6;

function Gallery({ workflowId }: { workflowId: number | null }) {
  const activeRunId = useEditorRuns((s) => s.activeRunId);
  const active = useLiveRun(activeRunId);
  const finishedCount = useFeed(
    (f) => Object.values(f.statuses).filter((r) => r.workflow === workflowId && FINISHED.has(r.status)).length,
  );
  const [past, setPast] = useState<{ runId: string; images: RunResult[] }[]>([]);
  useEffect(() => {
    if (workflowId === null) return;
    const controller = new AbortController();
    // The API has no "outputs of a workflow" list: the latest succeeded runs' details give their images.
    runsApi
      .list({ workflow: workflowId, status: "succeeded", limit: GALLERY_RUNS }, controller.signal)
      .then((page) => Promise.all(page.results.map((r) => runsApi.get(r.id, controller.signal))))
      .then(
        (details) => setPast(details.map((d) => ({ runId: d.id, images: imagesOf(stateFromDetail(d)) }))),
        () => undefined,
      );
    return () => controller.abort();
  }, [workflowId, finishedCount]);
  const current = active.state ? imagesOf(active.state) : [];
  const all = [
    ...(activeRunId ? [{ runId: activeRunId, images: current }] : []),
    ...past.filter((p) => p.runId !== activeRunId),
  ].flatMap((p) => p.images.map((img) => ({ ...img, runId: p.runId })));
  return (
    <section aria-label="Gallery">
      <h3>Gallery</h3>
      {all.length === 0 ? (
        <p className="fy-muted">
          {workflowId === null
            ? "Images of this session's runs show here."
            : "No images from this workflow's runs yet."}
        </p>
      ) : (
        <div className="fy-gallery">
          {all.slice(0, 24).map((img) =>
            img.kind === "image" ? (
              <Link
                key={`${img.runId}-${img.id}`}
                to={`/runs/${img.runId}`}
                title={`${img.filename ?? ""} (run ${img.runId.slice(0, 8)})`}
              >
                <MediaOutput result={img} />
              </Link>
            ) : (
              // a player inside a link would navigate on every click: the link goes below it
              <figure key={`${img.runId}-${img.id}`} className={`fy-gallery-${img.kind}`}>
                <MediaOutput result={img} />
                <Link to={`/runs/${img.runId}`}>{img.filename ?? `run ${img.runId.slice(0, 8)}`}</Link>
              </figure>
            ),
          )}
        </div>
      )}
    </section>
  );
}

const SIDEBAR_KEY = "flowyard.runsPanel";

/** The panel's state this browser chose ("open" or "closed"), or null before any choice. */
function readSidebarChoice(): "open" | "closed" | null {
  try {
    const value = window.localStorage.getItem(SIDEBAR_KEY);
    return value === "open" || value === "closed" ? value : null;
  } catch {
    return null;
  }
}

/**
 * The runs panel: a column beside the canvas (never over it, so it cannot hide the selection). Until this browser
 * opens or collapses it, it starts collapsed (the whole width for the graph) and opens when a run is queued here;
 * after that the choice is remembered.
 */
export function RunSidebar({ workflowId }: { workflowId: number | null }) {
  const store = useEditorRunsStore();
  const [choice, setChoice] = useState(readSidebarChoice);
  const queuedHere = useEditorRuns((s) => s.queued.length > 0);
  const open = choice ? choice === "open" : queuedHere;
  const setOpen = (next: boolean) => {
    const value = next ? "open" : "closed";
    setChoice(value);
    try {
      window.localStorage.setItem(SIDEBAR_KEY, value);
    } catch {
      // Storage refused (private mode): the choice lasts for this page only.
    }
  };
  if (!store) return null;
  return (
    <aside className={open ? "fy-run-sidebar" : "fy-run-sidebar closed"} aria-label="Runs">
      <button
        type="button"
        className="fy-sidebar-toggle"
        onClick={() => setOpen(!open)}
        aria-expanded={open}
        title={open ? "Collapse the runs panel" : "Show the runs panel"}
      >
        {open ? "Runs ▸" : "◂ Runs"}
      </button>
      {open && (
        <>
          <ActiveRun />
          <QueuePanel store={store} />
          <Gallery workflowId={workflowId} />
        </>
      )}
    </aside>
  );
}
