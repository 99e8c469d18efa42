import { StrictMode, type ReactNode } from "react";
import { createRoot } from "react-dom/client";
import type { View, ViewContext } from "../router";

export interface PageProps {
  ctx: ViewContext;
}

/**
 * A router View drawn by React: the page is mounted into the view's element and unmounted when
 * the user leaves (the context's signal aborts), so its effects stop their fetches, timers and
 * sockets exactly as the hand-written views did. Pages move to React one at a time through this.
 */
export function reactView(Page: (props: PageProps) => ReactNode): View {
  return (root, ctx) => {
    const reactRoot = createRoot(root);
    ctx.signal.addEventListener("abort", () => reactRoot.unmount(), { once: true });
    reactRoot.render(
      <StrictMode>
        <Page ctx={ctx} />
      </StrictMode>,
    );
  };
}
