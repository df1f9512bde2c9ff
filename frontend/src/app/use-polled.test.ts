// @vitest-environment jsdom
import { act, cleanup, renderHook } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { usePolled } from "./use-polled";

let visibility: DocumentVisibilityState = "visible";

beforeEach(() => {
  vi.useFakeTimers();
  visibility = "visible";
  vi.spyOn(document, "visibilityState", "get").mockImplementation(() => visibility);
});
afterEach(() => {
  cleanup();
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** A server whose answers are taken in turn (an Error answers as a failure); the last one repeats. */
function server(answers: (number | Error)[]) {
  let calls = 0;
  const load = vi.fn(() => {
    const answer = answers[Math.min(calls++, answers.length - 1)]!;
    return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
  });
  return { load, calls: () => calls };
}

describe("usePolled", () => {
  it("loads again after the delay its data asks for, and stops when it asks for none", async () => {
    const { load, calls } = server([1, 2, 3]);
    const { result } = renderHook(() => usePolled(load, [], (n) => (n !== null && n < 3 ? 1000 : null)));
    await act(() => vi.advanceTimersByTimeAsync(0));
    expect(result.current.data).toBe(1);
    await act(() => vi.advanceTimersByTimeAsync(1000));
    expect(result.current.data).toBe(2);
    await act(() => vi.advanceTimersByTimeAsync(1000));
    expect(result.current.data).toBe(3);
    await act(() => vi.advanceTimersByTimeAsync(5000));
    expect(calls()).toBe(3);
  });

  it("keeps the last good data when a load fails, and clears the error once one succeeds", async () => {
    const { load } = server([1, new Error("down"), 2]);
    const { result } = renderHook(() => usePolled(load, [], () => 1000));
    await act(() => vi.advanceTimersByTimeAsync(0));
    await act(() => vi.advanceTimersByTimeAsync(1000));
    expect(result.current.data).toBe(1);
    expect(result.current.error).toBeInstanceOf(Error);
    await act(() => vi.advanceTimersByTimeAsync(1000));
    expect(result.current.data).toBe(2);
    expect(result.current.error).toBeNull();
  });

  it("hands the failed load's error to `every`, which may stop polling on it", async () => {
    const { load, calls } = server([1, new Error("down"), 2]);
    const every = vi.fn((_n: number | null, error: unknown) => (error ? null : 1000));
    const { result } = renderHook(() => usePolled(load, [], every));
    await act(() => vi.advanceTimersByTimeAsync(0));
    await act(() => vi.advanceTimersByTimeAsync(1000));
    expect(every).toHaveBeenLastCalledWith(1, expect.any(Error));
    await act(() => vi.advanceTimersByTimeAsync(5000));
    expect(calls()).toBe(2);
    expect(result.current.data).toBe(1);
    expect(result.current.error).toBeInstanceOf(Error);
  });

  it("waits while the tab is hidden and loads as soon as it is shown again", async () => {
    const { load, calls } = server([1, 2]);
    renderHook(() => usePolled(load, [], () => 1000));
    await act(() => vi.advanceTimersByTimeAsync(0));
    visibility = "hidden";
    await act(() => vi.advanceTimersByTimeAsync(5000));
    expect(calls()).toBe(1);
    visibility = "visible";
    await act(async () => {
      document.dispatchEvent(new Event("visibilitychange"));
      await vi.advanceTimersByTimeAsync(0);
    });
    expect(calls()).toBe(2);
  });

  it("loads again at once on refresh and when its deps change", async () => {
    const { load, calls } = server([1]);
    const { result, rerender } = renderHook(({ q }) => usePolled(load, [q], () => null), {
      initialProps: { q: "a" },
    });
    await act(() => vi.advanceTimersByTimeAsync(0));
    act(() => result.current.refresh());
    await act(() => vi.advanceTimersByTimeAsync(0));
    expect(calls()).toBe(2);
    rerender({ q: "b" });
    await act(() => vi.advanceTimersByTimeAsync(0));
    expect(calls()).toBe(3);
  });
});
