import { useCallback, useEffect, useRef, useState } from "react";

export interface Polled<T> {
  /** The last list (or object) loaded well; null until the first load answers. */
  data: T | null;
  /** The last load's error, null once a load succeeds again (the last good `data` stays). */
  error: unknown;
  /** When the last load answered (ms since the epoch), 0 before. */
  at: number;
  refresh(): void;
}

/** Load on mount, whenever `deps` (primitives) change and on `refresh`, then again `every(data, error)` ms after
 * each answer (null: stop) while the tab is visible; a tab that comes back with a load due loads at once. After a
 * failed load the next delay is `every` of the last good data (null when there is none) and the load's error
 * (null after a good one), so a caller may stop or back off on a failure. This is `useAsync` for
 * what changes on the server while it is shown (workers, fetch jobs). */
export function usePolled<T>(
  load: (signal: AbortSignal) => Promise<T>,
  deps: readonly (string | number | boolean | null | undefined)[],
  every: (data: T | null, error: unknown) => number | null,
): Polled<T> {
  const [state, setState] = useState<Omit<Polled<T>, "refresh">>({ data: null, error: null, at: 0 });
  const [tick, setTick] = useState(0);
  const lastGood = useRef<T | null>(null);
  const key = JSON.stringify(deps);
  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let due = false;
    const again = () => {
      if (document.visibilityState === "hidden") due = true;
      else setTick((t) => t + 1);
    };
    const schedule = (data: T | null, error: unknown) => {
      const delay = every(data, error);
      if (delay !== null) timer = setTimeout(again, delay);
    };
    load(controller.signal).then(
      (data) => {
        if (controller.signal.aborted) return;
        lastGood.current = data;
        setState({ data, error: null, at: Date.now() });
        schedule(data, null);
      },
      (error: unknown) => {
        if (controller.signal.aborted) return;
        setState((s) => ({ ...s, error, at: Date.now() }));
        schedule(lastGood.current, error);
      },
    );
    const onVisible = () => {
      if (document.visibilityState === "visible" && due) setTick((t) => t + 1);
    };
    document.addEventListener("visibilitychange", onVisible);
    return () => {
      controller.abort();
      if (timer) clearTimeout(timer);
      document.removeEventListener("visibilitychange", onVisible);
    };
    // `load` and `every` are fresh closures each render; `key` captures what they depend on.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, tick]);
  const refresh = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, refresh };
}
