// Runs started by one collaborator show on everyone's canvas. `ws/workflows/<id>/runs/`
// (backend/coedit/run_feed.py) names each run queued in the workflow (and, on connect, those still unfinished);
// the editor shows the newest one as it shows its own (`show(id)`: node states, progress, previews and outputs
// through ws/runs/<id>/). A run this editor queued is shared with the others: a run of a saved version is
// announced by the server itself, a raw-graph run (the draft's structure differs from the saved version) by
// `POST /api/workflows/<id>/shared-runs`.
import { useEffect } from "react";
import { z } from "zod";
import { apiRequest } from "../api/client";
import { useSession } from "../app/session";
import { useEditorStoreApi } from "../editor/store-context";
import type { EditorRunsStore } from "../runs/editor-runs";
import { useEditorRunsStore } from "../runs/editor-runs";
import { ReconnectingSocket, wsUrl, type SocketFactory, type Timers } from "../runs/reconnecting-socket";

export const sharedRunSchema = z.object({
  type: z.literal("run"),
  run: z.object({
    id: z.string(),
    status: z.string(),
    workflow: z.number().nullable(),
    created_by: z.object({ id: z.number(), name: z.string() }).nullable(),
    created: z.string().nullable(),
  }),
});
export type SharedRun = z.infer<typeof sharedRunSchema>["run"];

export interface SharedRunsOptions {
  workflowId: number;
  runs: EditorRunsStore;
  /** The signed-in user: their own runs show without a notice. */
  userId: number;
  notify: (text: string) => void;
  share?: (workflowId: number, runId: string) => Promise<unknown>;
  factory?: SocketFactory;
  timers?: Timers;
}

export function shareRun(workflowId: number, runId: string): Promise<undefined> {
  return apiRequest(`/api/workflows/${workflowId}/shared-runs`, z.undefined(), {
    method: "POST",
    body: { run: runId },
  });
}

/** Show the workflow's runs on this editor's canvas as they are queued, and share the ones queued here; returns
 * the function that stops. */
export function followSharedRuns(options: SharedRunsOptions): () => void {
  const { runs, workflowId } = options;
  const share = options.share ?? shareRun;
  const seen = new Set<string>(runs.getState().queued); // already on this canvas
  const receive = (run: SharedRun) => {
    if (seen.has(run.id)) return; // a reconnect names unfinished runs again
    seen.add(run.id);
    runs.getState().show(run.id);
    if (run.created_by?.id !== options.userId) {
      options.notify(`${run.created_by?.name ?? "Someone"} started a run: its progress shows on the canvas.`);
    }
  };
  const socket = new ReconnectingSocket({
    url: () => wsUrl(`/ws/workflows/${workflowId}/runs/`),
    schema: sharedRunSchema,
    onMessage: (message) => receive(message.run),
    onInvalid: (raw, error) => console.warn("Shared run message in an unexpected shape, ignored:", error, raw),
    ...(options.factory ? { factory: options.factory } : {}),
    ...(options.timers ? { timers: options.timers } : {}),
  });
  const unsubscribe = runs.subscribe((state, previous) => {
    if (state.queued === previous.queued) return;
    for (const id of state.queued) {
      if (seen.has(id)) continue;
      seen.add(id);
      share(workflowId, id).catch((exc: unknown) => console.warn("Could not share the run with the others:", exc));
    }
  });
  return () => {
    unsubscribe();
    socket.stop();
  };
}

/** Follow the workflow's shared runs while the editor is open (renders nothing). */
export function SharedRuns({ workflowId }: { workflowId: number }): null {
  const runs = useEditorRunsStore();
  const editor = useEditorStoreApi();
  const { session } = useSession();
  const userId = session.status === "signed-in" ? session.user.id : null;
  useEffect(() => {
    if (!runs || userId === null) return;
    return followSharedRuns({
      workflowId,
      runs,
      userId,
      notify: (text) => editor.getState().notify("info", text),
    });
  }, [runs, editor, workflowId, userId]);
  return null;
}
