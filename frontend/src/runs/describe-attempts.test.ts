import { describe, expect, it } from "vitest";
import { describeAttempts } from "./run-detail-page";

describe("describeAttempts", () => {
  it("says why a run went back to the queue, and where it went", () => {
    expect(
      describeAttempts({ attempt: 2, maxAttempts: 3, reason: "worker_lost", previousWorker: "w1", worker: null }, 2),
    ).toBe("2 of 3: its worker stopped answering (w1), back in the queue; finished nodes come from the shared cache");
    expect(
      describeAttempts(
        { attempt: 2, maxAttempts: null, reason: "worker_stopped", previousWorker: null, worker: "w2" },
        2,
      ),
    ).toBe("2: its worker shut down, taken over by w2; finished nodes come from the shared cache");
  });

  it("falls back to the stored attempt count after a reload", () => {
    expect(describeAttempts(null, 3)).toBe("3: its worker was lost and it resumed from the shared cache");
  });
});
