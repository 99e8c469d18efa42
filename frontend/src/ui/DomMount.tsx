import { useEffect, useRef, type ReactNode } from "react";

/**
 * Hosts nodes built by the hand-written DOM code (a uPlot chart, an SVG drawing) inside a React
 * page, while that code is still imperative: `build` runs after mount and again when `deps`
 * change, gets a signal aborted on the next build or unmount, and may return a cleanup.
 * React never touches the host's children, so the two do not fight over them.
 */
export function DomMount({
  build,
  deps,
  id,
  className,
}: {
  build: (host: HTMLElement, signal: AbortSignal) => void | (() => void);
  deps: readonly unknown[];
  id?: string;
  className?: string;
}): ReactNode {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = host.current;
    if (!el) return undefined;
    const controller = new AbortController();
    const cleanup = build(el, controller.signal);
    return () => {
      controller.abort();
      cleanup?.();
      el.replaceChildren();
    };
    // `build` is a new closure on every render; what it depends on is in `deps`.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  return <div ref={host} id={id} className={className} />;
}
