// A run's event log folds an approval step in: the step awaits with its review outputs, the run shows
// awaiting_approval, an approval that resumes it puts it back in the queue, and a rejection ends it.
import { describe, expect, it } from "vitest";
import { anyEventSchema, FINISHED } from "../runs/run-schemas";
import { applyEvents, emptyRunState, isFinished, type RunState } from "../runs/run-state";

function fold(state: RunState, raw: unknown[]): RunState {
  return applyEvents(
    state,
    raw.map((e) => anyEventSchema.parse(e)),
  ).state;
}

const paused = [
  { seq: 1, time: 1, type: "run_started", node: null, data: { nodes: ["1", "gate", "3"], targets: ["3"] } },
  { seq: 2, time: 2, type: "node_started", node: "1", data: { type: "test.Inc" } },
  { seq: 3, time: 3, type: "node_finished", node: "1", data: { type: "test.Inc", duration: 0.1 } },
  { seq: 4, time: 4, type: "node_started", node: "gate", data: { type: "Approval" } },
  {
    seq: 5,
    time: 5,
    type: "node_paused",
    node: "gate",
    data: {
      type: "Approval",
      message: "OK?",
      role: "editor",
      results: [{ id: 4, kind: "text", node: "gate", index: 0, text: "1" }],
    },
  },
  { seq: 6, time: 6, type: "run_paused", node: null, data: { status: "paused", paused: ["gate"], executed: 1 } },
  { seq: 7, time: 7, type: "approval_requested", node: "gate", data: { approval: 3 } },
];

describe("approval events", () => {
  it("shows the step awaiting with what it shows, and the run awaiting approval (not finished)", () => {
    const state = fold(emptyRunState("r", "running"), paused);
    expect(state.status).toBe("awaiting_approval");
    expect(isFinished(state)).toBe(false);
    expect(state.nodes.gate!.status).toBe("awaiting");
    expect(state.nodes.gate!.results.map((r) => r.text)).toEqual(["1"]);
    expect(state.lastSeq).toBe(7);
  });

  it("goes back to the queue once approved, then runs again", () => {
    const decided = {
      seq: 8,
      time: 8,
      type: "approval_decided",
      node: "gate",
      data: { approval: 3, decision: "approve", decided_by: "eddie", run_status: "queued" },
    };
    const state = fold(emptyRunState("r", "running"), [...paused, decided]);
    expect(state.status).toBe("queued");
    expect(state.nodes.gate!.status).toBe("queued");
    const resumed = fold(state, [
      { seq: 9, time: 9, type: "run_started", node: null, data: { nodes: ["gate", "3"], targets: ["3"] } },
    ]);
    expect(resumed.status).toBe("running");
  });

  it("ends rejected, the step failed and the rest skipped", () => {
    const state = fold(emptyRunState("r", "running"), [
      ...paused,
      {
        seq: 8,
        time: 8,
        type: "approval_decided",
        node: "gate",
        data: { approval: 3, decision: "reject", decided_by: "adam", comment: "no", run_status: "rejected" },
      },
      {
        seq: 9,
        time: 9,
        type: "run_finished",
        node: null,
        data: { status: "rejected", executed: 0, cached: 0, failed: ["gate"], error: "Rejected by adam: no" },
      },
    ]);
    expect(state.status).toBe("rejected");
    expect(FINISHED.has(state.status)).toBe(true);
    expect(state.nodes.gate!.status).toBe("failed");
    expect(state.nodes["3"]!.status).toBe("skipped");
  });
});
