// @vitest-environment jsdom
// The shared-runs feed with a fake socket: a collaborator's run becomes the run on the canvas (once, with a
// notice), the editor's own runs are shared and not shown twice, a reconnect repeats nothing, odd frames are
// ignored. The server side: backend/coedit/tests/test_run_feed.py; in browsers: frontend/e2e/test_coedit.py.
import { describe, expect, it, vi } from "vitest";
import { createEditorRunsStore } from "../runs/editor-runs";
import type { SocketLike, Timers } from "../runs/reconnecting-socket";
import { followSharedRuns, type SharedRun } from "./shared-runs";

class FakeSocket implements SocketLike {
  onopen: SocketLike["onopen"] = null;
  onmessage: SocketLike["onmessage"] = null;
  onclose: SocketLike["onclose"] = null;
  onerror: SocketLike["onerror"] = null;
  closed = false;
  constructor(readonly url: string) {}
  deliver(message: unknown) {
    this.onmessage?.({ data: JSON.stringify(message) });
  }
  close() {
    this.closed = true;
  }
}

function setUp() {
  const sockets: FakeSocket[] = [];
  const pending: (() => void)[] = [];
  const timers: Timers = { set: (fn) => pending.push(fn), clear: () => undefined };
  const runs = createEditorRunsStore(5);
  const notices: string[] = [];
  const share = vi.fn((_workflow: number, _run: string) => Promise.resolve());
  const stop = followSharedRuns({
    workflowId: 7,
    runs,
    userId: 1,
    notify: (text) => notices.push(text),
    share,
    timers,
    factory: (url) => {
      const socket = new FakeSocket(url);
      sockets.push(socket);
      return socket;
    },
  });
  return { sockets, pending, runs, notices, share, stop, last: () => sockets[sockets.length - 1]! };
}

const run = (id: string, by: number, name = "ada"): SharedRun => ({
  id,
  status: "queued",
  workflow: null,
  created_by: { id: by, name },
  created: "2026-12-07T15:00:00Z",
});

describe("followSharedRuns", () => {
  it("shows a collaborator's run on the canvas once, with a notice", () => {
    const t = setUp();
    expect(t.last().url).toMatch(/\/ws\/workflows\/7\/runs\/$/);
    t.last().deliver({ type: "run", run: run("r1", 2) });
    expect(t.runs.getState().activeRunId).toBe("r1");
    expect(t.notices).toEqual(["ada started a run: its progress shows on the canvas."]);

    // A reconnect names the unfinished runs again: nothing changes, nothing is said twice.
    t.runs.getState().show("mine");
    t.last().onclose?.({ code: 1006 });
    t.pending.shift()!();
    t.last().deliver({ type: "run", run: run("r1", 2) });
    expect(t.runs.getState().activeRunId).toBe("mine");
    expect(t.notices).toHaveLength(1);
    t.stop();
    expect(t.last().closed).toBe(true);
  });

  it("shares the runs queued here, and does not show them again when the server names them", () => {
    const t = setUp();
    t.runs.setState({ activeRunId: "own", queued: ["own"] });
    expect(t.share).toHaveBeenCalledWith(7, "own");
    t.last().deliver({ type: "run", run: run("own", 1) });
    expect(t.notices).toEqual([]);
    t.runs.setState({ queued: ["own"], validation: {} }); // another change of the store: no second share
    expect(t.share).toHaveBeenCalledTimes(1);
    // My run from elsewhere (another tab, the API) shows, without a notice.
    t.last().deliver({ type: "run", run: run("other-tab", 1) });
    expect(t.runs.getState().activeRunId).toBe("other-tab");
    expect(t.notices).toEqual([]);
    t.stop();
  });

  it("ignores frames in another shape", () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const t = setUp();
    t.last().deliver({ type: "run", run: { id: 3 } });
    t.last().deliver({ type: "something" });
    expect(t.runs.getState().activeRunId).toBeNull();
    expect(warn).toHaveBeenCalledTimes(2);
    warn.mockRestore();
    t.stop();
  });
});
