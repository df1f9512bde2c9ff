import { afterEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { ApiError, apiRequest, setFetcher } from "../api/client";
import { HEALTH_POLL_MS, isServerUnavailable, resetServerStatus, setHealthProbe } from "./server-status";

afterEach(() => {
  resetServerStatus();
  setFetcher((...args) => fetch(...args));
  vi.useRealTimers();
});

describe("server status", () => {
  it("a 503 marks the server unavailable until /api/health answers ok", async () => {
    vi.useFakeTimers();
    const probe = vi.fn().mockResolvedValueOnce(false).mockResolvedValue(true);
    setHealthProbe(probe);
    const body = { detail: "Service unavailable: the database is unavailable.", errors: [], unavailable: "database" };
    setFetcher(
      async () => new Response(JSON.stringify(body), { status: 503, headers: { "Content-Type": "application/json" } }),
    );
    await expect(apiRequest("/api/workflows", z.unknown())).rejects.toBeInstanceOf(ApiError);
    expect(isServerUnavailable()).toBe(true);
    await vi.advanceTimersByTimeAsync(HEALTH_POLL_MS);
    expect(isServerUnavailable()).toBe(true); // the first probe failed: still retrying
    await vi.advanceTimersByTimeAsync(HEALTH_POLL_MS);
    expect(probe).toHaveBeenCalledTimes(2);
    expect(isServerUnavailable()).toBe(false);
  });

  it("other errors leave the banner off", async () => {
    setFetcher(async () => new Response(JSON.stringify({ detail: "bad" }), { status: 400 }));
    await expect(apiRequest("/api/workflows", z.unknown())).rejects.toBeInstanceOf(ApiError);
    expect(isServerUnavailable()).toBe(false);
  });
});
