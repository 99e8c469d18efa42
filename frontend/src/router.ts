import { isNotFound } from "./api";
import { errorSlot, h } from "./dom";

export interface ViewContext {
  params: Record<string, string>;
  /** Aborted when the user leaves the view: stops fetches, timers and sockets. */
  signal: AbortSignal;
}

export type View = (root: HTMLElement, ctx: ViewContext) => void | Promise<void>;

interface Route {
  segments: string[];
  view: View;
}

export const DEFAULT_ROUTE = "#/datasets";

/** A view whose code is fetched the first time it is opened (its own chunk of the bundle), so
 * the first page does not wait for every other page's code. */
export function lazyView(load: () => Promise<View>): View {
  let loading: Promise<View> | null = null;
  return async (root, ctx) => {
    // A failed fetch (a new deploy removed the old chunk, the network dropped) is tried again
    // on the next visit rather than remembered.
    loading ??= load().catch((err: unknown) => {
      loading = null;
      throw err;
    });
    const view = await loading;
    if (!ctx.signal.aborted) await view(root, ctx);
  };
}

export function navigate(hash: string): void {
  location.hash = hash;
}

function currentSegments(): string[] {
  return location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
}

function match(route: Route, path: string[]): Record<string, string> | null {
  if (route.segments.length !== path.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < path.length; i++) {
    const want = route.segments[i]!;
    const got = path[i]!;
    if (want.startsWith(":")) {
      try {
        params[want.slice(1)] = decodeURIComponent(got);
      } catch {
        return null;
      }
    } else if (want !== got) {
      return null;
    }
  }
  return params;
}

/**
 * Renders the view for the current hash into `outlet`. Each render gets a fresh element and
 * AbortSignal, so late answers from a previous view land in a detached node and do no harm.
 */
export function startRouter(
  outlet: HTMLElement,
  table: Record<string, View>,
  onChange: (section: string) => void,
): void {
  const routes: Route[] = Object.entries(table).map(([pattern, view]) => ({
    segments: pattern.split("/").filter(Boolean),
    view,
  }));
  let controller: AbortController | null = null;

  function render(): void {
    const path = currentSegments();
    if (path.length === 0) {
      history.replaceState(null, "", DEFAULT_ROUTE);
      render();
      return;
    }
    controller?.abort();
    controller = new AbortController();
    const root = h("section", { class: "view" });
    outlet.replaceChildren(root);
    onChange(path[0]!);

    for (const route of routes) {
      const params = match(route, path);
      if (!params) continue;
      const signal = controller.signal;
      Promise.resolve()
        .then(() => route.view(root, { params, signal }))
        .catch((err: unknown) => {
          // An object that is not there (deleted, mistyped, or someone else's): a whole page
          // that says so, not a half-drawn view of it.
          if (isNotFound(err) && err instanceof Error) {
            root.replaceChildren(...notFound(err.message));
            return;
          }
          const slot = errorSlot();
          root.append(slot.el);
          slot.show(err);
        });
      return;
    }
    root.append(...notFound("No page here."));
  }

  window.addEventListener("hashchange", render);
  render();
}

function notFound(detail: string): HTMLElement[] {
  return [
    h("h1", { id: "not-found" }, "Not found"),
    h("p", null, detail),
    h("p", null, h("a", { href: DEFAULT_ROUTE }, "Back to datasets")),
  ];
}
