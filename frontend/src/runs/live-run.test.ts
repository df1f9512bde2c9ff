// Reconnect logic with a fake WebSocket and fake timers: backoff, resume with after=<last seq>, no lost or
// doubled events, final close codes, and the HTTP gap fill.
import { describe, expect, it, vi } from "vitest";
import samples from "./__fixtures__/backend-samples.json";
import { LiveRun } from "./live-run";
import { backoffDelay, BACKOFF_MAX_MS, ReconnectingSocket, type SocketLike, type Timers } from "./reconnecting-socket";
import { anyEventSchema, runDetailSchema, type EventPage, type RunDetail } from "./run-schemas";

class FakeSocket implements SocketLike {
  onopen: SocketLike["onopen"] = null;
  onmessage: SocketLike["onmessage"] = null;
  onclose: SocketLike["onclose"] = null;
  onerror: SocketLike["onerror"] = null;
  closed = false;
  readonly url: string;
  constructor(url: string) {
    this.url = url;
  }
  open() {
    this.onopen?.({});
  }
  send(message: unknown) {
    this.onmessage?.({ data: JSON.stringify(message) });
  }
  drop(code = 1006) {
    this.closed = true;
    this.onclose?.({ code });
  }
  close() {
    this.closed = true;
  }
}

function fakeEnv() {
  const sockets: FakeSocket[] = [];
  const pending: { fn: () => void; ms: number }[] = [];
  const timers: Timers = {
    set: (fn, ms) => {
      const entry = { fn, ms };
      pending.push(entry);
      return entry;
    },
    clear: (h) => {
      const i = pending.indexOf(h as (typeof pending)[number]);
      if (i >= 0) pending.splice(i, 1);
    },
  };
  const flushTimer = () => {
    const next = pending.shift();
    if (!next) throw new Error("no timer pending");
    next.fn();
    return next.ms;
  };
  return {
    sockets,
    pending,
    timers,
    flushTimer,
    factory: (url: string) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
    last: () => sockets[sockets.length - 1]!,
  };
}

const events = samples.run_ws_messages;
const detail = runDetailSchema.parse(samples.run_detail);
/** The detail as it was before the run started: queued, no node rows, no results. */
const queuedDetail: RunDetail = {
  ...detail,
  status: "queued",
  last_seq: 0,
  started: null,
  finished: null,
  nodes: [],
  results: [],
};

describe("backoff", () => {
  it("doubles from 0.5 s up to the cap, with bounded jitter", () => {
    const noJitter = () => 0;
    expect([0, 1, 2, 3].map((a) => backoffDelay(a, noJitter))).toEqual([500, 1000, 2000, 4000]);
    expect(backoffDelay(20, noJitter)).toBe(BACKOFF_MAX_MS);
    expect(backoffDelay(0, () => 1)).toBe(600);
  });
});

describe("ReconnectingSocket", () => {
  it("reconnects with growing delays, resets after a successful open and stops on final codes", () => {
    const env = fakeEnv();
    const states: string[] = [];
    const got: unknown[] = [];
    const invalid = vi.fn();
    let n = 0;
    new ReconnectingSocket({
      url: () => `ws://x/${n++}`,
      schema: anyEventSchema,
      onMessage: (m) => got.push(m),
      onInvalid: invalid,
      onState: (s) => states.push(s),
      factory: env.factory,
      timers: env.timers,
      random: () => 0,
    });
    env.last().drop();
    expect(env.flushTimer()).toBe(500);
    env.last().drop();
    expect(env.flushTimer()).toBe(1000);
    env.last().open();
    env.last().send({ nonsense: true });
    env.last().send(events[0]);
    expect(invalid).toHaveBeenCalledTimes(1);
    expect(got).toHaveLength(1);
    env.last().drop();
    expect(env.flushTimer()).toBe(500); // reset by the open
    env.last().drop(4404);
    expect(env.pending).toHaveLength(0);
    expect(env.sockets.map((s) => s.url)).toEqual(["ws://x/0", "ws://x/1", "ws://x/2", "ws://x/3"]);
    expect(states.at(-1)).toBe("closed");
  });
});

describe("LiveRun", () => {
  function makeRun(initial: RunDetail, env = fakeEnv(), eventsApi?: (after: number) => Promise<EventPage>) {
    const run = new LiveRun(detail.id, {
      get: async () => initial,
      events: async (_id, after) =>
        eventsApi
          ? eventsApi(after)
          : {
              run: detail.id,
              status: "running",
              last_seq: events.length,
              events: events.filter((e) => e.seq > after).map((e) => anyEventSchema.parse(e)),
              more: false,
            },
      factory: env.factory,
      timers: env.timers,
      random: () => 0,
      url: (p) => `ws://test${p}`,
    });
    return { run, env };
  }

  it("resumes after a drop with after=<last seq> and ends with every event applied once", async () => {
    const { run, env } = makeRun(queuedDetail);
    await run.start();
    expect(env.last().url).toBe(`ws://test/ws/runs/${detail.id}/?after=0&batch=1`);
    env.last().open();
    for (const e of events.slice(0, 7)) env.last().send([e]);
    env.last().drop();
    env.flushTimer();
    expect(env.last().url).toBe(`ws://test/ws/runs/${detail.id}/?after=7&batch=1`);
    env.last().open();
    // The server replays from 8, and a live batch repeats 8–9: duplicates are dropped.
    for (const e of [...events.slice(7, 9), ...events.slice(7)]) env.last().send([e]);
    const s = run.getSnapshot().state!;
    expect(s.lastSeq).toBe(events.length);
    expect(s.status).toBe("succeeded");
    expect(s.nodes["2"]!.status).toBe("succeeded");
    expect(env.last().closed).toBe(true); // finished: no more reconnects
    expect(env.pending).toHaveLength(0);
  });

  it("fills a gap over HTTP", async () => {
    const { run, env } = makeRun(queuedDetail);
    await run.start();
    env.last().open();
    for (const e of events.slice(0, 4)) env.last().send([e]);
    env.last().send([events[10]]); // 5..10 missing
    await vi.waitFor(() => expect(run.getSnapshot().state!.lastSeq).toBe(events.length));
  });

  it("applies a batch frame (an array of events) at once, dropping what it already has", async () => {
    const { run, env } = makeRun(queuedDetail);
    await run.start();
    env.last().open();
    env.last().send(events.slice(0, 3));
    expect(run.getSnapshot().state!.lastSeq).toBe(3);
    env.last().send(events.slice(1)); // 2–3 again, then the rest of the run
    const s = run.getSnapshot().state!;
    expect(s.lastSeq).toBe(events.length);
    expect(s.status).toBe("succeeded");
    expect(env.last().closed).toBe(true);
  });

  it("ignores a frame that is not an array of events", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const { run, env } = makeRun(queuedDetail);
    await run.start();
    env.last().open();
    env.last().send(events[0]); // one object: the unbatched protocol, not what batch=1 sends
    expect(run.getSnapshot().state!.lastSeq).toBe(0);
    expect(warn).toHaveBeenCalled();
    warn.mockRestore();
  });

  it("opens a finished run from its detail without a socket", async () => {
    const { run, env } = makeRun(detail);
    await run.start();
    expect(run.getSnapshot().state!.status).toBe("succeeded");
    expect(env.sockets).toHaveLength(0);
  });

  it("applies events received before the detail arrived", async () => {
    const { run } = makeRun({ ...queuedDetail, status: "running", last_seq: 2 });
    run.receive(events.slice(0, 4).map((e) => anyEventSchema.parse(e)));
    await run.start();
    expect(run.getSnapshot().state!.lastSeq).toBe(4);
  });
});

describe("LiveRun and ws/events/ statuses", () => {
  it("keeps the socket until run_finished even when the feed says the run finished", async () => {
    const env = fakeEnv();
    const run = new LiveRun(detail.id, {
      get: async () => queuedDetail,
      events: async () => ({ run: detail.id, status: "succeeded", last_seq: 0, events: [], more: false }),
      factory: env.factory,
      timers: env.timers,
      random: () => 0,
      url: (p) => `ws://test${p}`,
    });
    await run.start();
    env.last().open();
    for (const e of events.slice(0, 5)) env.last().send([e]);
    run.noteStatus("succeeded");
    expect(env.last().closed).toBe(false);
    env.last().drop();
    env.flushTimer();
    expect(env.last().url).toContain("after=5");
    for (const e of events.slice(5)) env.last().send([e]);
    expect(run.getSnapshot().state!.summary).not.toBeNull();
    expect(env.last().closed).toBe(true);
  });

  it("reloads the detail of a run cancelled while queued (it has no events)", async () => {
    const env = fakeEnv();
    let calls = 0;
    const run = new LiveRun(detail.id, {
      get: async () => (++calls === 1 ? queuedDetail : { ...queuedDetail, status: "cancelled", error: "Cancelled." }),
      events: async () => ({ run: detail.id, status: "cancelled", last_seq: 0, events: [], more: false }),
      factory: env.factory,
      timers: env.timers,
      url: (p) => `ws://test${p}`,
    });
    await run.start();
    run.noteStatus("cancelled");
    await vi.waitFor(() => expect(run.getSnapshot().state!.status).toBe("cancelled"));
    expect(env.last().closed).toBe(true);
  });
});
