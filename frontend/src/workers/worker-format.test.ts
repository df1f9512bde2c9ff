import { describe, expect, it } from "vitest";
import samples from "../packs/__fixtures__/backend-samples.json";
import { formatBytes, heartbeatAge, modelLabel, sortWorkers, workerState } from "./worker-format";
import { workerSchema } from "./worker-schemas";

describe("workers page wording", () => {
  it("sizes", () => {
    expect(formatBytes(null)).toBe("—");
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.5 KB");
    expect(formatBytes(25276063744)).toBe("24 GB");
  });
  it("heartbeat ages", () => {
    const now = Date.parse("2026-01-01T12:00:00Z");
    expect(heartbeatAge(null, now)).toBe("never");
    expect(heartbeatAge("2026-01-01T11:59:56Z", now)).toBe("4 s ago");
    expect(heartbeatAge("2026-01-01T11:57:00Z", now)).toBe("3 min ago");
    expect(heartbeatAge("2026-01-01T09:00:00Z", now)).toBe("3 h ago");
  });
  it("status of the recorded workers: one online and idle, one lost; online sorted first", () => {
    const workers = samples.workers_member.map((w) => workerSchema.parse(w));
    const sorted = sortWorkers(workers);
    expect(sorted.map((w) => workerState(w).label)).toEqual(["idle", "lost"]);
    expect(workerState({ status: "online", alive: true, busy: true }).tone).toBe("wait");
    expect(workerState({ status: "online", alive: false, busy: false }).label).toBe("silent");
    expect(workerState({ status: "stopped", alive: false, busy: false }).tone).toBe("muted");
  });
  it("admins see host and pid, members do not", () => {
    expect(workerSchema.parse(samples.workers_admin[0]).hostname).toBeTruthy();
    expect(workerSchema.parse(samples.workers_member[0]).hostname).toBeUndefined();
  });
  it("labels model entries", () => {
    expect(modelLabel("org/m")).toBe("org/m");
    expect(modelLabel({ model_id: "org/m", revision: "v1" })).toBe("org/m@v1");
  });
});
