import { useCallback, useEffect, useState } from "react";

export type AsyncState<T> = { status: "loading" } | { status: "error"; error: unknown } | { status: "ready"; data: T };

/** Run `load` on mount and whenever `deps` (primitives) change; `reload` runs it again. */
export function useAsync<T>(
  load: (signal: AbortSignal) => Promise<T>,
  deps: readonly (string | number | boolean | null | undefined)[],
): AsyncState<T> & { reload(): void } {
  const [attempt, setAttempt] = useState(0);
  const key = JSON.stringify([...deps, attempt]);
  const [result, setResult] = useState<{ key: string; state: AsyncState<T> } | null>(null);
  useEffect(() => {
    const controller = new AbortController();
    load(controller.signal).then(
      (data) => !controller.signal.aborted && setResult({ key, state: { status: "ready", data } }),
      (error: unknown) => !controller.signal.aborted && setResult({ key, state: { status: "error", error } }),
    );
    return () => controller.abort();
    // `load` is a fresh closure each render; `key` captures what it depends on.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  const reload = useCallback(() => setAttempt((a) => a + 1), []);
  const state: AsyncState<T> = result && result.key === key ? result.state : { status: "loading" };
  return { ...state, reload };
}
