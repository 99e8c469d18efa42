import { api, type Dataset } from "../api";
import { errorSlot, h, isAbort, messageRow } from "../dom";

export const PAGE_ROWS = 20;

function cell(value: unknown): HTMLTableCellElement {
  if (value === null || value === undefined) return h("td", { class: "missing" }, "—");
  const text = typeof value === "object" ? JSON.stringify(value) : String(value);
  return h("td", { class: typeof value === "number" ? "num" : null }, text);
}

/** A page-by-page preview of the stored rows, as the server reads them. */
export function rowsPreview(ds: Dataset, signal: AbortSignal): HTMLElement {
  const errors = errorSlot();
  let names = (ds.profile?.columns ?? ds.columns ?? []).map((c) => c.name);
  const head = h("thead");
  const body = h("tbody", null, messageRow(Math.max(names.length, 1), "Loading…"));
  const tbl = h("table", { id: "rows-table" }, head, body);
  const prev = h("button", { type: "button", id: "rows-prev", class: "secondary", disabled: true }, "← Prev");
  const next = h("button", { type: "button", id: "rows-next", class: "secondary", disabled: true }, "Next →");
  const range = h("span", { id: "rows-range", class: "hint" });
  let offset = 0;
  let busy: AbortController | null = null;
  signal.addEventListener("abort", () => busy?.abort());

  function renderHead(): void {
    head.replaceChildren(h("tr", null, h("th", { class: "num" }, "#"), names.map((n) => h("th", null, n))));
  }

  async function show(at: number): Promise<void> {
    busy?.abort();
    const mine = new AbortController();
    busy = mine;
    if (signal.aborted) return;
    prev.disabled = next.disabled = true;
    try {
      const page = await api.datasetRows(ds.id, at, PAGE_ROWS, mine.signal);
      errors.clear();
      offset = page.offset ?? at;
      const rows = Array.isArray(page.rows) ? page.rows : [];
      // Columns the profile does not know (should not happen) still get shown.
      for (const row of rows) for (const key of Object.keys(row)) if (!names.includes(key)) names = [...names, key];
      renderHead();
      body.replaceChildren(
        ...(rows.length
          ? rows.map((row, i) => h("tr", { "data-testid": "data-row" }, h("td", { class: "num muted" }, String(offset + i + 1)), names.map((n) => cell(row[n]))))
          : [messageRow(names.length + 1, "No rows here.")]),
      );
      const total = typeof page.count === "number" ? page.count : null;
      range.textContent = rows.length
        ? `Rows ${offset + 1}–${offset + rows.length}${total === null ? "" : ` of ${total.toLocaleString("en-US")}`}`
        : "";
      prev.disabled = offset <= 0;
      next.disabled = page.next_offset === null || page.next_offset === undefined;
      next.dataset.offset = String(page.next_offset ?? "");
    } catch (err) {
      if (isAbort(err)) return;
      errors.show(err);
      prev.disabled = offset <= 0;
      next.disabled = false; // let the user try again
    } finally {
      if (busy === mine) busy = null;
    }
  }

  prev.addEventListener("click", () => void show(Math.max(0, offset - PAGE_ROWS)));
  next.addEventListener("click", () => {
    const to = Number(next.dataset.offset);
    void show(Number.isFinite(to) && next.dataset.offset ? to : offset + PAGE_ROWS);
  });

  renderHead();
  void show(0);
  return h(
    "section",
    { id: "rows-preview" },
    h(
      "div",
      { class: "section-head" },
      h("h2", null, "Rows"),
      h("div", { class: "actions" }, prev, next, range),
      h("a", { id: "export-link", href: api.exportUrl(ds.id), download: `dataset-${String(ds.id)}-v${ds.version ?? 1}.csv` }, "Export CSV"),
    ),
    errors.el,
    h("div", { class: "table-scroll" }, tbl),
  );
}
