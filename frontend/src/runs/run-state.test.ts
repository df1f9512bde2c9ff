import { describe, expect, it } from "vitest";
import samples from "./__fixtures__/backend-samples.json";
import { anyEventSchema, runDetailSchema, type AnyRunEvent } from "./run-schemas";
import { applyEvents, applyStatus, emptyRunState, imagesOf, stateFromDetail, type RunState } from "./run-state";

const events: AnyRunEvent[] = samples.run_ws_messages.map((m) => anyEventSchema.parse(m));
const failedEvents: AnyRunEvent[] = samples.failed_ws_messages.map((m) => anyEventSchema.parse(m));
const runId = samples.run_detail.id;

function applyAll(state: RunState, list: readonly AnyRunEvent[]): RunState {
  return list.reduce((s, e) => applyEvents(s, [e]).state, state);
}

describe("events → per-node state", () => {
  it("follows a run from start to finish", () => {
    let s = emptyRunState(runId);
    s = applyEvents(s, events.slice(0, 1)).state; // run_started
    expect(s.status).toBe("running");
    expect(s.order).toEqual(["4", "1", "5", "2", "3"]);
    expect(Object.values(s.nodes).every((n) => n.status === "queued")).toBe(true);
    const upToProgress = events.findIndex((e) => e.type === "progress" && e.data.value === 3);
    s = applyEvents(s, events.slice(1, upToProgress + 1)).state;
    expect(s.nodes["2"]).toMatchObject({ status: "running", progress: { value: 3, max: 6 } });
    expect(s.nodes["4"]!.status).toBe("succeeded");
    expect(s.nodes["5"]!.results[0]).toMatchObject({ kind: "text", text: "hello" });
    s = applyEvents(s, events.slice(upToProgress + 1)).state;
    expect(s.status).toBe("succeeded");
    expect(s.lastSeq).toBe(events.length);
    expect(s.nodes["2"]).toMatchObject({ status: "succeeded", progress: null });
    expect(s.nodes["2"]!.duration).toBeGreaterThan(0);
    expect(imagesOf(s).length).toBe(6);
    expect(s.summary).toMatchObject({ executed: 5, cached: 0 });
  });

  it("marks failures with message and skipped nodes downstream", () => {
    const s = applyEvents(emptyRunState("f"), failedEvents).state;
    expect(s.status).toBe("failed");
    expect(s.nodes["1"]).toMatchObject({ status: "failed", errorType: "NodeError" });
    expect(s.nodes["1"]!.error).toContain("invalid JSON");
    expect(s.nodes["2"]!.status).toBe("skipped");
    expect(s.nodes["4"]!.status).toBe("succeeded");
  });

  it("marks nodes the run does not plan as cached, as the server's node rows do", () => {
    const detail = runDetailSchema.parse(samples.run_detail);
    const queuedRows = {
      ...detail,
      status: "queued" as const,
      last_seq: 0,
      started: null,
      finished: null,
      results: [],
      nodes: detail.nodes.map((n) => ({
        ...n,
        status: "queued" as const,
        started: null,
        finished: null,
        duration: null,
      })),
    };
    const mk = (seq: number, type: string, node: string | null, data: unknown) =>
      anyEventSchema.parse({ seq, type, node, data, time: seq });
    const s = applyEvents(stateFromDetail(queuedRows), [
      mk(1, "run_started", null, { nodes: ["1", "5", "2", "3"], targets: ["3", "5"] }),
    ]).state;
    expect(s.nodes["4"]!.status).toBe("cached");
    expect(s.nodes["1"]!.status).toBe("queued");
  });

  it("shows cached nodes and cancels what was still open when the run ends", () => {
    const mk = (seq: number, type: string, node: string | null, data: unknown) =>
      anyEventSchema.parse({ seq, type, node, data, time: 100 + seq });
    const s = applyEvents(emptyRunState("c"), [
      mk(1, "run_started", null, { nodes: ["a", "b", "c"], targets: ["c"] }),
      mk(2, "nodes_cached", null, { nodes: ["a"] }),
      mk(3, "node_started", "b", { type: "Slow" }),
      mk(4, "run_finished", null, { status: "cancelled", executed: 0, cached: 1, failed: [], duration: 3 }),
    ]).state;
    expect(s.nodes["a"]!.status).toBe("cached");
    expect(s.nodes["b"]!.status).toBe("cancelled");
    expect(s.nodes["c"]!.status).toBe("cancelled");
    expect(s.status).toBe("cancelled");
  });

  it("shows a node being retried, and clears the retry when it finishes", () => {
    const mk = (seq: number, type: string, node: string | null, data: unknown) =>
      anyEventSchema.parse({ seq, type, node, data, time: 100 + seq });
    let s = applyEvents(emptyRunState("r"), [
      mk(1, "run_started", null, { nodes: ["a"], targets: ["a"] }),
      mk(2, "node_started", "a", { type: "Flaky" }),
      mk(3, "node_retry", "a", {
        type: "Flaky",
        attempt: 2,
        attempts: 3,
        error: "NodeError: busy",
        error_type: "NodeError",
        delay: 0.5,
      }),
    ]).state;
    expect(s.nodes["a"]).toMatchObject({
      status: "running",
      retry: { attempt: 2, attempts: 3, error: "NodeError: busy", outOfMemory: false },
    });
    s = applyEvents(s, [
      mk(4, "node_finished", "a", { type: "Flaky", duration: 1.5, cached: false, outputs: [] }),
    ]).state;
    expect(s.nodes["a"]).toMatchObject({ status: "succeeded", retry: null });
  });

  it("puts a run whose worker was lost back in the queue, its running nodes with it", () => {
    const mk = (seq: number, type: string, node: string | null, data: unknown) =>
      anyEventSchema.parse({ seq, type, node, data, time: 100 + seq });
    let s = applyEvents(emptyRunState("q"), [
      mk(1, "run_started", null, { nodes: ["a", "b"], targets: ["b"] }),
      mk(2, "node_started", "a", { type: "Slow" }),
      mk(3, "node_finished", "a", { type: "Slow", duration: 1, cached: false, outputs: [] }),
      mk(4, "node_started", "b", { type: "Slow" }),
      mk(5, "run_requeued", null, { attempt: 2, max_attempts: 3, reason: "worker_lost", previous_worker: "w1" }),
    ]).state;
    expect(s.status).toBe("queued");
    expect(s.requeued).toEqual({
      attempt: 2,
      maxAttempts: 3,
      reason: "worker_lost",
      previousWorker: "w1",
      worker: null,
    });
    expect(s.nodes["a"]!.status).toBe("succeeded");
    expect(s.nodes["b"]!.status).toBe("queued");
    // Taken over at once by another worker: it stays running; the resumed attempt starts again.
    s = applyEvents(s, [
      mk(6, "run_requeued", null, {
        attempt: 3,
        max_attempts: 3,
        reason: "worker_stopped",
        previous_worker: "w2",
        worker: "w3",
      }),
      mk(7, "run_started", null, { nodes: ["b"], targets: ["b"] }),
    ]).state;
    expect(s.requeued?.worker).toBe("w3");
    expect(s.status).toBe("running");
  });
});

describe("replay + live merge", () => {
  const full = applyAll(emptyRunState(runId), events);

  it("drops duplicates: replaying everything twice changes nothing", () => {
    const again = applyEvents(full, events);
    expect(again.state).toBe(full);
    expect(again.gap).toBe(false);
  });

  it("applies overlapping replay and live batches exactly once", () => {
    let s = emptyRunState(runId);
    s = applyEvents(s, events.slice(0, 8)).state; // replay
    s = applyEvents(s, events.slice(5, 12)).state; // live batch overlapping the replay
    s = applyEvents(s, events.slice(10)).state;
    expect(s).toEqual(full);
  });

  it("holds events past a gap and reports it, then applies them once it is filled", () => {
    let r = applyEvents(emptyRunState(runId), events.slice(0, 5));
    r = applyEvents(r.state, events.slice(9, 12)); // 6..9 missing
    expect(r.gap).toBe(true);
    expect(r.state.lastSeq).toBe(5);
    expect(Object.keys(r.state.pending).map(Number)).toEqual([10, 11, 12]);
    r = applyEvents(r.state, events.slice(5, 9)); // the HTTP replay fills it
    expect(r.gap).toBe(false);
    expect(r.state.lastSeq).toBe(12);
    r = applyEvents(r.state, events.slice(12));
    expect(r.state).toEqual(full);
  });

  it("applies events in seq order whatever order they arrive in", () => {
    const shuffled = [...events].reverse();
    const s = applyAll(emptyRunState(runId), shuffled);
    expect(s).toEqual(full);
  });

  it("starts from the detail (reload) and merges the remaining events", () => {
    const detail = runDetailSchema.parse(samples.run_detail);
    const fromDetail = stateFromDetail(detail);
    expect(fromDetail.status).toBe("succeeded");
    expect(fromDetail.lastSeq).toBe(18);
    expect(fromDetail.nodes["3"]!.results.filter((r) => r.kind === "image")).toHaveLength(6);
    expect(applyEvents(fromDetail, events).state).toBe(fromDetail);
    // A detail taken mid-run, then the rest of the log.
    const mid = { ...detail, status: "running" as const, last_seq: 8 };
    const resumed = applyEvents(stateFromDetail(mid), events).state;
    expect(resumed.lastSeq).toBe(18);
    expect(resumed.status).toBe("succeeded");
  });

  it("takes only queued → running from ws/events/: a finished status waits for run_finished", () => {
    expect(applyStatus(full, "running")).toBe(full);
    const queued = emptyRunState("q");
    expect(applyStatus(queued, "running").status).toBe("running");
    const running = applyEvents(queued, events.slice(0, 3)).state;
    expect(applyStatus(running, "succeeded")).toBe(running);
  });
});
