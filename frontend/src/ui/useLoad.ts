import { useCallback, useEffect, useState } from "react";
import { isAbort } from "../dom";

export type Loaded<T> =
  | { state: "loading"; data: undefined; error: undefined }
  | { state: "ready"; data: T; error: undefined }
  | { state: "failed"; data: undefined; error: unknown };

/**
 * Loads what a component shows, again whenever `deps` change or `reload()` is called. Each load
 * has its own AbortSignal, aborted when the component unmounts or a newer load starts, so a
 * late answer never overwrites a newer one and a page left behind fetches nothing more.
 */
export function useLoad<T>(
  load: (signal: AbortSignal) => Promise<T>,
  deps: readonly unknown[],
): Loaded<T> & { reload: () => void } {
  const [loaded, setLoaded] = useState<Loaded<T>>({ state: "loading", data: undefined, error: undefined });
  const [generation, setGeneration] = useState(0);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);

  useEffect(() => {
    const controller = new AbortController();
    load(controller.signal).then(
      (data) => {
        if (!controller.signal.aborted) setLoaded({ state: "ready", data, error: undefined });
      },
      (error: unknown) => {
        if (!controller.signal.aborted && !isAbort(error)) {
          setLoaded({ state: "failed", data: undefined, error });
        }
      },
    );
    return () => controller.abort();
    // `load` is a new closure on every render; what it depends on is in `deps`.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, generation]);

  return { ...loaded, reload };
}
