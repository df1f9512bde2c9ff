import { describe, expect, it } from "vitest";
import { anyEventSchema, type AnyRunEvent } from "./run-schemas";
import { applyEvents, emptyRunState, type RunState } from "./run-state";

const mk = (seq: number, type: string, node: string | null, data: unknown): AnyRunEvent =>
  anyEventSchema.parse({ seq, type, node, data, time: 100 + seq });

/** A preview reference as the server sends it in a progress event (JPEG, only the latest is kept). */
const preview = (id: number) => ({
  id,
  kind: "preview",
  node: "s",
  index: 0,
  url: `/api/runs/r/outputs/${id}`,
  filename: `preview-s-${id}.jpg`,
  content_type: "image/jpeg",
  size: 2000,
});

function apply(state: RunState, ...events: AnyRunEvent[]): RunState {
  return applyEvents(state, events).state;
}

describe("live previews on a node", () => {
  it("shows the latest preview in place while the sampler steps, and drops it when the node finishes", () => {
    let s = apply(
      emptyRunState("r"),
      mk(1, "run_started", null, { nodes: ["s"], targets: ["s"] }),
      mk(2, "node_started", "s", { type: "KSampler" }),
    );
    s = apply(s, mk(3, "progress", "s", { value: 1, max: 20, preview: preview(7) }));
    expect(s.nodes["s"]).toMatchObject({ status: "running", progress: { value: 1, max: 20 } });
    expect(s.nodes["s"]!.preview?.url).toBe("/api/runs/r/outputs/7");
    // Steps between two previews (at most one each 250 ms) keep the last image.
    s = apply(s, mk(4, "progress", "s", { value: 2, max: 20 }));
    expect(s.nodes["s"]!.preview?.id).toBe(7);
    s = apply(s, mk(5, "progress", "s", { value: 3, max: 20, preview: preview(9) }));
    expect(s.nodes["s"]!.preview?.url).toBe("/api/runs/r/outputs/9");
    expect(s.nodes["s"]!.progress).toEqual({ value: 3, max: 20 });
    s = apply(
      s,
      mk(6, "node_finished", "s", { type: "KSampler", cached: false, duration: 1, outputs: [], results: [] }),
    );
    expect(s.nodes["s"]!.preview).toBeNull();
  });
});
