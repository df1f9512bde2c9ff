// Running from the editor: the Run action (button and Ctrl+Enter), validation errors pinned to nodes and inputs,
// and the live state of the run on the canvas. One small store per editor, provided through context; node
// components read it with `useNodeRun*` hooks, which render nothing outside a provider (tests, public view).
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from "react";
import { createStore, type StoreApi } from "zustand/vanilla";
import { useStore } from "zustand";
import { ApiError, errorMessage } from "../api/client";
import { applySeedControls } from "../editor/graph-model";
import type { EditorStore } from "../editor/store";
import { useEditorStore } from "../editor/store-context";
import { buildRunRequest, type RunTarget } from "./run-request";
import { runsApi } from "./runs-api";
import { useRunInstanceStatus, useRunNode } from "./runs-store";
import { FileOutput, isShownMedia, isTextual, MediaOutput } from "./media-output";
import { blankNode, type NodeState } from "./run-state";

export interface ValidationIssue {
  input: string | null;
  code: string | null;
  message: string;
}

export interface EditorRunsState {
  /** Where uploads and raw-graph runs of this editor go. */
  workspaceId: number | null;
  /** The run shown on the canvas (the last one queued here, or one picked in the queue panel). */
  activeRunId: string | null;
  /** Runs queued from this editor, newest first. */
  queued: string[];
  validation: Record<string, ValidationIssue[]>;
  /** Validation problems not tied to a node. */
  generalErrors: string[];
  submitting: number;
  show(runId: string | null): void;
}

export type EditorRunsStore = StoreApi<EditorRunsState>;

export function createEditorRunsStore(workspaceId: number | null): EditorRunsStore {
  return createStore<EditorRunsState>()((set) => ({
    workspaceId,
    activeRunId: null,
    queued: [],
    validation: {},
    generalErrors: [],
    submitting: 0,
    show: (runId) => set({ activeRunId: runId }),
  }));
}

const Ctx = createContext<EditorRunsStore | null>(null);

export function EditorRunsProvider({ store, children }: { store: EditorRunsStore; children: ReactNode }) {
  return <Ctx.Provider value={store}>{children}</Ctx.Provider>;
}

export function useEditorRunsStore(): EditorRunsStore | null {
  return useContext(Ctx);
}

const noStore = createEditorRunsStore(null);

/** Read the editor's run state (a dummy, empty one outside a provider). */
export function useEditorRuns<T>(selector: (s: EditorRunsState) => T): T {
  return useStore(useContext(Ctx) ?? noStore, selector);
}

/** Split a 400's graph errors by node. */
export function validationByNode(exc: ApiError): { byNode: Record<string, ValidationIssue[]>; general: string[] } {
  const byNode: Record<string, ValidationIssue[]> = {};
  const general: string[] = [];
  for (const e of exc.errors) {
    if (e.node) (byNode[e.node] ??= []).push({ input: e.input ?? null, code: e.code ?? null, message: e.message });
    else general.push(e.field ? `${e.field}: ${e.message}` : e.message);
  }
  if (!exc.errors.length) general.push(exc.detail);
  return { byNode, general };
}

/**
 * Queue a run of the editor's current graph. Several may be queued; after each, seed widgets change as their
 * control says (ComfyUI's control_after_generate).
 */
export async function queueRun(editor: EditorStore, runs: EditorRunsStore, target: RunTarget): Promise<string | null> {
  const s = editor.getState();
  if (!Object.keys(s.graph.nodes).length) {
    s.notify("info", "Add some nodes first: the graph is empty.");
    return null;
  }
  const body = buildRunRequest(s.graphToSave(), s.savedGraph, s.catalog, target); // the root, also inside a subgraph
  runs.setState((r) => ({ submitting: r.submitting + 1 }));
  try {
    const run = await runsApi.create(body);
    runs.setState((r) => ({
      activeRunId: run.id,
      queued: [run.id, ...r.queued].slice(0, 50),
      validation: {},
      generalErrors: [],
    }));
    editor.getState().change((g) => applySeedControls(g, editor.getState().catalog));
    const where = run.queue_position ? ` (position ${run.queue_position + 1} in the queue)` : "";
    editor.getState().notify("info", `Run queued${where}.`);
    return run.id;
  } catch (exc) {
    if (exc instanceof ApiError && exc.status === 400) {
      const { byNode, general } = validationByNode(exc);
      runs.setState({ validation: byNode, generalErrors: general });
      const count = Object.keys(byNode).length;
      editor
        .getState()
        .notify(
          "error",
          count
            ? `The graph cannot run: ${count} node${count > 1 ? "s have" : " has"} problems (marked in red). ${exc.detail}`
            : exc.detail,
        );
      if (count) editor.getState().select(Object.keys(byNode));
    } else {
      editor.getState().notify("error", `Could not queue the run: ${errorMessage(exc)}`);
    }
    return null;
  } finally {
    runs.setState((r) => ({ submitting: r.submitting - 1 }));
  }
}

// ---- per-node views (used by editor/components/flow-node.tsx) ----

export function useNodeRunState(nodeId: string): NodeState | null {
  const runId = useEditorRuns((s) => s.activeRunId);
  // Inside an open subgraph, node 34 of instance 12 ran as "12:34".
  const runNodeId = useEditorStore((s) => s.subgraphPath.map((f) => `${f.instance}:`).join("")) + nodeId;
  const own = useRunNode(runId, runNodeId);
  // A subgraph instance runs as its inner nodes ("12:34"): it shows their combined state.
  const inner = useRunInstanceStatus(runId, runNodeId);
  return useMemo(() => own ?? (inner ? instanceState(runNodeId, inner) : null), [own, inner, runNodeId]);
}

function instanceState(id: string, status: string): NodeState {
  return { ...blankNode(id), status: status as NodeState["status"] };
}

const EMPTY: ValidationIssue[] = [];
export function useNodeValidation(nodeId: string): ValidationIssue[] {
  return useEditorRuns((s) => s.validation[nodeId] ?? EMPTY);
}

/** The CSS class of a node from its run state and validation problems. */
export function useNodeRunClass(nodeId: string): string {
  const state = useNodeRunState(nodeId);
  const invalid = useNodeValidation(nodeId).length > 0;
  const parts = [];
  if (state && state.status !== "pending") parts.push(`run-${state.status}`);
  if (invalid) parts.push("run-invalid");
  return parts.length ? " " + parts.join(" ") : "";
}

function seconds(s: number | null): string {
  if (s === null) return "";
  return s < 1 ? `${Math.max(1, Math.round(s * 1000))} ms` : `${s.toFixed(s < 10 ? 2 : 1)} s`;
}

const STATUS_TEXT: Record<string, string> = {
  queued: "queued",
  cached: "cached",
  running: "running",
  succeeded: "done",
  failed: "failed",
  skipped: "skipped",
  cancelled: "cancelled",
  awaiting: "awaiting approval",
};

export function NodeRunBadge({ nodeId }: { nodeId: string }) {
  const state = useNodeRunState(nodeId);
  if (!state || state.status === "pending") return null;
  const label =
    state.status === "succeeded" && state.duration !== null
      ? seconds(state.duration)
      : state.status === "running" && state.retry
        ? `retry ${state.retry.attempt}/${state.retry.attempts}`
        : STATUS_TEXT[state.status];
  return (
    <span
      className={`fy-run-badge status-${state.status}`}
      title={`This node: ${state.status}`}
      data-testid={`run-badge-${nodeId}`}
    >
      {label}
    </span>
  );
}

export function InputIssue({ nodeId, input }: { nodeId: string; input: string }) {
  const issues = useNodeValidation(nodeId).filter((i) => i.input === input);
  if (!issues.length) return null;
  return (
    <div className="fy-input-issue" role="alert">
      {issues.map((i) => i.message).join("; ")}
    </div>
  );
}

/** Under the node body: validation problems, progress, errors, outputs previewed in place. */
export function NodeRunDetails({ nodeId }: { nodeId: string }) {
  const state = useNodeRunState(nodeId);
  const issues = useNodeValidation(nodeId).filter((i) => i.input === null);
  const [open, setOpen] = useState<string | null>(null);
  const toggle = useCallback((url: string) => setOpen((o) => (o === url ? null : url)), []);
  if (!state && !issues.length) return null;
  const progress = state?.status === "running" ? state.progress : null;
  const images = state?.results.filter((r) => r.kind === "image" && r.url) ?? [];
  const players = state?.results.filter((r) => r.kind !== "image" && isShownMedia(r)) ?? [];
  const files = state?.results.filter((r) => r.kind === "file" && r.url) ?? [];
  const texts = state?.results.filter(isTextual) ?? [];
  const preview = state?.status === "running" ? state.preview : null;
  return (
    <div className="fy-node-run nodrag nowheel">
      {issues.map((i, n) => (
        <div className="fy-node-issue" role="alert" key={n}>
          {i.message}
        </div>
      ))}
      {state?.status === "running" && (
        <div
          className="fy-progress"
          role="progressbar"
          aria-valuemin={0}
          aria-valuemax={progress?.max ?? 1}
          aria-valuenow={progress?.value ?? 0}
        >
          <div
            className={progress ? "fy-progress-fill" : "fy-progress-fill indeterminate"}
            style={progress ? { width: `${(100 * progress.value) / Math.max(progress.max, 1e-9)}%` } : undefined}
          />
          {progress && (
            <span className="fy-progress-text">
              {Math.round(progress.value)}/{Math.round(progress.max)}
            </span>
          )}
        </div>
      )}
      {state?.status === "running" && state.retry && (
        <div className="fy-node-retry" role="status">
          {state.retry.outOfMemory ? "Out of memory; models freed. " : ""}Attempt {state.retry.attempt} of{" "}
          {state.retry.attempts} after: {state.retry.error}
        </div>
      )}
      {preview?.url && <img className="fy-node-preview" src={preview.url} alt="live preview" />}
      {state?.status === "failed" && (
        <div className="fy-node-error" role="alert">
          <strong>{state.errorType || "Error"}:</strong> {state.error}
          {state.traceback && (
            <details>
              <summary>Traceback</summary>
              <pre>{state.traceback}</pre>
            </details>
          )}
        </div>
      )}
      {images.length > 0 && (
        <div className="fy-node-images">
          {images.slice(0, 8).map((r) => (
            <button
              type="button"
              key={r.id}
              className="fy-node-image"
              onClick={() => toggle(r.url!)}
              title={r.filename ?? ""}
            >
              <img src={r.url!} alt={r.filename ?? "output"} loading="lazy" />
            </button>
          ))}
          {images.length > 8 && <span className="fy-more">+{images.length - 8}</span>}
        </div>
      )}
      {players.map((r) => (
        <MediaOutput key={r.id} result={r} className={`fy-node-${r.kind}`} />
      ))}
      {files.map((r) => (
        <FileOutput key={r.id} result={r} />
      ))}
      {open && (
        <a href={open} target="_blank" rel="noreferrer" className="fy-node-image-large">
          <img src={open} alt="output, large" />
        </a>
      )}
      {texts.map((r) => (
        <pre className="fy-node-text" key={r.id}>
          {r.kind === "json" ? JSON.stringify(r.data, null, 2) : r.text}
        </pre>
      ))}
    </div>
  );
}
