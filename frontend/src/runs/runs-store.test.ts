// The order of a finished run's toast and its canvas: ws/events/ can say "succeeded" before the run's own
// socket has delivered anything (a quick run, a socket still connecting under load); the toast then waits until
// the followed run's state is final, which the status itself fetches at once (the run's detail).
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import samples from "./__fixtures__/backend-samples.json";
import type * as ReconnectingSocketModule from "./reconnecting-socket";
import { runDetailSchema, runStatusMessageSchema, type RunDetail } from "./run-schemas";

const finalDetail = runDetailSchema.parse(samples.run_detail);
const queuedDetail: RunDetail = {
  ...finalDetail,
  status: "queued",
  last_seq: 0,
  started: null,
  finished: null,
  nodes: [],
  results: [],
};
/** Loaded mid-run: some events applied, then the run's socket stalled. */
const runningDetail: RunDetail = {
  ...finalDetail,
  status: "running",
  last_seq: 3,
  finished: null,
  nodes: finalDetail.nodes.map((n) => ({ ...n, status: "running" })),
  results: [],
};
const detailGets = vi.fn<(id: string) => Promise<RunDetail>>();

vi.mock("./runs-api", () => ({
  runsApi: { get: (id: string) => detailGets(id), events: vi.fn() },
}));
vi.mock("./reconnecting-socket", async (importOriginal) => ({
  ...(await importOriginal<typeof ReconnectingSocketModule>()),
  wsUrl: (path: string) => `ws://test${path}`,
}));

/** A socket that never opens: the run's own events do not arrive (still connecting). */
class SilentSocket {
  onopen = null;
  onmessage = null;
  onclose = null;
  onerror = null;
  close() {}
  send() {}
}

// runs-store holds module state (followed runs, the feed): each test starts from a fresh module. setTimeout
// refuses to be called as a method of another object, as browsers do ("Illegal invocation"; Node does not care).
const nodeSetTimeout = globalThis.setTimeout;
beforeEach(() => {
  vi.resetModules();
  vi.stubGlobal("setTimeout", function (this: unknown, fn: () => void, ms?: number) {
    if (this !== undefined && this !== globalThis) throw new TypeError("Illegal invocation");
    return nodeSetTimeout(fn, ms);
  });
});

afterEach(() => {
  vi.unstubAllGlobals();
  detailGets.mockReset();
});

function statusMessage(status: "running" | "succeeded") {
  const sample = samples.events_ws_messages.find((m) => m.type === "run.status")!;
  const parsed = runStatusMessageSchema.parse(sample);
  return { ...parsed, run: { ...parsed.run, id: finalDetail.id, status, created_by: finalDetail.created_by!.id } };
}

describe("a finished run's notice and its canvas", () => {
  it.each([
    ["queued when loaded", queuedDetail],
    ["loaded mid-run", runningDetail],
  ])(
    "shows the toast only once the followed run's state is final, fetched when the status arrives (%s)",
    async (_, first) => {
      vi.stubGlobal("WebSocket", SilentSocket);
      const store = await import("./runs-store");
      store.setFeedUser(finalDetail.created_by!.id);
      let finishedDetail: (detail: RunDetail) => void = () => {};
      detailGets
        .mockResolvedValueOnce(first)
        .mockReturnValueOnce(new Promise<RunDetail>((resolve) => (finishedDetail = resolve)));
      const release = store.followRun(finalDetail.id);
      const run = () => store.feedStore.getState();
      await vi.waitFor(() => expect(detailGets).toHaveBeenCalledTimes(1));

      // What the canvas showed when the toast appeared: the run's status and its nodes'.
      const canvasAtToast: string[][] = [];
      const unsubscribe = store.feedStore.subscribe((s, prev) => {
        if (s.notifications.length <= prev.notifications.length) return;
        const state = store.liveRunSnapshot(finalDetail.id)?.state;
        canvasAtToast.push([state?.status ?? "none", ...Object.values(state?.nodes ?? {}).map((n) => n.status)]);
      });

      store.receiveWorkspaceEvent(statusMessage("running"));
      store.receiveWorkspaceEvent(statusMessage("succeeded"));
      // The status itself asked for the final state at once (not after the run socket's reconnects)...
      await vi.waitFor(() => expect(detailGets).toHaveBeenCalledTimes(2));
      // ...and the toast waits for it.
      expect(run().notifications).toHaveLength(0);
      expect(run().statuses[finalDetail.id]!.status).toBe("succeeded");
      finishedDetail(finalDetail);
      await vi.waitFor(() => expect(run().notifications).toHaveLength(1));
      const expected = ["succeeded", ...finalDetail.nodes.map((n) => n.status)];
      expect(canvasAtToast).toEqual([expected]);
      expect(expected.slice(1)).not.toContain("running");
      unsubscribe();
      release();
    },
  );

  it("notifies at once about a run no view follows", async () => {
    vi.stubGlobal("WebSocket", SilentSocket);
    const store = await import("./runs-store");
    store.setFeedUser(finalDetail.created_by!.id);
    const before = store.feedStore.getState().notifications.length;
    const message = statusMessage("succeeded");
    store.receiveWorkspaceEvent({ ...message, run: { ...message.run, id: "another-run" } });
    expect(store.feedStore.getState().notifications.length).toBe(Math.min(before + 1, 5));
    expect(detailGets).not.toHaveBeenCalled();
  });
});
