type AttrValue = string | number | boolean | null | undefined | ((ev: Event) => void);
export type Attrs = Record<string, AttrValue>;
export type Child = Node | string | number | null | undefined | false | Child[];

/**
 * Builds an element. Strings become Text nodes (never parsed as HTML), so server data
 * such as column names like `<script>` is always shown literally.
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Attrs | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === "function") {
      el.addEventListener(key.replace(/^on/, ""), value);
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  appendChildren(el, children);
  return el;
}

function appendChildren(el: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) appendChildren(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

export function isAbort(err: unknown): boolean {
  return err instanceof DOMException && err.name === "AbortError";
}

export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** A place in a view where an error message can appear and disappear. */
export interface ErrorSlot {
  el: HTMLElement;
  show(err: unknown): void;
  clear(): void;
}

export function errorSlot(): ErrorSlot {
  const el = h("div", { class: "error-slot" });
  return {
    el,
    show(err) {
      // A request cancelled because the user navigated away is not an error to report.
      if (isAbort(err)) return;
      el.replaceChildren(h("p", { class: "error", role: "alert" }, messageOf(err)));
    },
    clear() {
      el.replaceChildren();
    },
  };
}

/** Focusable, so a keyboard can scroll it: every table is its own scroll box on a phone. A table
 * inside a focusable `.table-scroll` box passes `tabindex: null`. */
export const SCROLLS = { tabindex: 0 } as const;

export function table(attrs: Attrs, headers: string[], body: HTMLTableSectionElement): HTMLTableElement {
  return h(
    "table",
    { ...SCROLLS, ...attrs },
    h("thead", null, h("tr", null, headers.map((t) => h("th", null, t)))),
    body,
  );
}

/** A single full-width row for empty or loading tables. */
export function messageRow(colspan: number, text: string): HTMLTableRowElement {
  return h("tr", { class: "empty" }, h("td", { colspan }, text));
}

export function statusBadge(status: string, attrs: Attrs = {}): HTMLSpanElement {
  return h("span", { class: "status", "data-status": status, ...attrs }, status);
}

export function formatNumber(value: unknown): string {
  // Never JSON text: a list is its items side by side, a map its pairs.
  if (Array.isArray(value)) return value.map(formatNumber).join(", ");
  if (value !== null && typeof value === "object") return `(${formatPairs(value)})`;
  if (typeof value !== "number") return value === null || value === undefined ? "—" : String(value);
  if (Number.isInteger(value)) return String(value);
  // Float noise around zero (a mean of centred values: -3.7e-17) is zero to a reader.
  if (Math.abs(value) < 1e-12) return "0";
  return String(Number(value.toPrecision(4)));
}

/** `{a: 1, b: "x"}` → `a=1, b=x`, for compact metrics and hyperparameters. */
export function formatPairs(obj: unknown): string {
  if (!obj || typeof obj !== "object") return "—";
  const parts = Object.entries(obj as Record<string, unknown>).map(([k, v]) => `${k}=${formatNumber(v)}`);
  return parts.length ? parts.join(", ") : "—";
}

export function formatDate(value: string | null | undefined): string {
  if (!value) return "—";
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? value : d.toLocaleString();
}

export function formatBytes(n: number | null | undefined): string {
  if (typeof n !== "number") return "—";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** A definition list of label/value pairs. */
export function facts(pairs: Array<[string, Child]>, attrs: Attrs = {}): HTMLDListElement {
  return h("dl", { class: "facts", ...attrs }, pairs.map(([k, v]) => [h("dt", null, k), h("dd", null, v)]));
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** An SVG element: `h` for drawings (classes, not style attributes: the CSP refuses those). */
export function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number>,
  ...children: Node[]
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  el.append(...children);
  return el;
}

/** A title element, shown as a tooltip; its text is a Text node, never markup. */
export function svgTitle(text: string): SVGTitleElement {
  const t = svg("title", {});
  t.textContent = text;
  return t;
}
