import { describe, expect, it } from "vitest";
import { formatSeconds, layoutTimeline, tickStep, timelineInputs } from "./timeline";
import { applyEvents, emptyRunState } from "./run-state";
import { anyEventSchema } from "./run-schemas";
import samples from "./__fixtures__/backend-samples.json";

describe("timeline layout", () => {
  it("places bars proportionally to start and duration", () => {
    const t0 = 1_000_000;
    const layout = layoutTimeline(
      [
        { id: "a", label: "a", status: "succeeded", started: t0, finished: t0 + 1000 },
        { id: "b", label: "b", status: "succeeded", started: t0 + 1000, finished: t0 + 4000 },
        { id: "c", label: "c", status: "cached", started: null, finished: t0 },
      ],
      { width: 400, runStart: t0 },
    );
    expect(layout.end - layout.start).toBe(4000);
    expect(layout.bars[0]).toMatchObject({ x: 0, width: 100, seconds: 1, row: 0, marker: false });
    expect(layout.bars[1]).toMatchObject({ x: 100, width: 300, seconds: 3 });
    expect(layout.bars[2]).toMatchObject({ marker: true, width: 0, x: 0 });
    expect(layout.ticks.map((t) => t.label)).toEqual([
      "0 ms",
      "500 ms",
      "1.0 s",
      "1.5 s",
      "2.0 s",
      "2.5 s",
      "3.0 s",
      "3.5 s",
      "4.0 s",
    ]);
  });

  it("gives very short nodes a visible bar and extends running ones to now", () => {
    const layout = layoutTimeline(
      [
        { id: "fast", label: "f", status: "succeeded", started: 0, finished: 1 },
        { id: "run", label: "r", status: "running", started: 0, finished: null },
      ],
      { width: 100, runStart: 0, now: 10_000 },
    );
    expect(layout.bars[0]!.width).toBe(2);
    expect(layout.bars[1]).toMatchObject({ width: 100, seconds: 10 });
  });

  it("handles an empty or instant run without dividing by zero", () => {
    const layout = layoutTimeline([], { width: 100, now: 5 });
    expect(Number.isFinite(layout.end)).toBe(true);
    expect(layout.bars).toEqual([]);
  });

  it("picks nice tick steps", () => {
    expect(tickStep(10)).toBe(2);
    expect(tickStep(0.3)).toBeCloseTo(0.05);
    expect(tickStep(600)).toBe(100);
    expect(formatSeconds(75)).toBe("1 min 15 s");
  });

  it("lays out a recorded run in plan order", () => {
    const s = applyEvents(
      emptyRunState("r"),
      samples.run_ws_messages.map((m) => anyEventSchema.parse(m)),
    ).state;
    const layout = layoutTimeline(timelineInputs(s), { width: 600, runStart: s.started });
    expect(layout.bars.map((b) => b.id)).toEqual(["4", "1", "5", "2", "3"]);
    const blur = layout.bars.find((b) => b.id === "2")!;
    expect(blur.width).toBeGreaterThan(300); // ImageBlur took most of the run
    for (const b of layout.bars) expect(b.x + b.width).toBeLessThanOrEqual(600 + 1e-6);
  });
});
