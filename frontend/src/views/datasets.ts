import { ApiError, api, type DatasetListItem } from "../api";
import { errorSlot, h, isAbort, messageRow, statusBadge, table } from "../dom";
import type { ViewContext } from "../router";
import { datasetHref, uploadForm } from "./uploadForm";

const REFRESH_MS = 1500;
const COLUMNS = ["Name", "Rows", "Columns", "Kind", "Version", "SHA-256", "Status", ""];

export const isProfiling = (status: string) => status === "PENDING" || status === "PROFILING";

function datasetRow(ds: DatasetListItem): HTMLTableRowElement {
  const sha = ds.sha256 ?? "";
  const href = datasetHref(ds.id);
  return h(
    "tr",
    { "data-testid": "dataset-row", "data-id": String(ds.id), "data-status": ds.status },
    h("td", null, h("a", { href }, ds.name)),
    h("td", { class: "num" }, String(ds.n_rows ?? "—")),
    h("td", { class: "num" }, String(ds.n_columns ?? "—")),
    h("td", null, ds.kind ?? "—"),
    h("td", { class: "num" }, `v${ds.version ?? 1}`),
    h("td", null, h("code", { title: sha }, sha.slice(0, 12))),
    h("td", null, statusBadge(ds.status)),
    h("td", null, h("a", { href }, ds.kind === "image" ? "Open" : "Train")),
  );
}

export async function datasetsView(root: HTMLElement, { signal }: ViewContext): Promise<void> {
  const listErrors = errorSlot();
  const tbody = h("tbody", null, messageRow(COLUMNS.length, "Loading…"));
  const rows = new Map<string, HTMLTableRowElement>();
  const pending = new Set<string>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  signal.addEventListener("abort", () => clearTimeout(timer));

  root.append(
    h("h1", null, "Datasets"),
    uploadForm(signal, () => void load()),
    h("h2", null, "Your datasets"),
    listErrors.el,
    table({ id: "datasets-table" }, COLUMNS, tbody),
  );

  function place(ds: DatasetListItem): void {
    const id = String(ds.id);
    const row = datasetRow(ds);
    const old = rows.get(id);
    if (old?.isConnected) old.replaceWith(row);
    rows.set(id, row);
    if (isProfiling(ds.status)) pending.add(id);
    else pending.delete(id);
  }

  /** Looks again at the rows still being profiled, until each is READY or FAILED. */
  function schedule(): void {
    clearTimeout(timer);
    if (pending.size === 0 || signal.aborted) return;
    timer = setTimeout(async () => {
      await Promise.all(
        [...pending].map((id) =>
          api.dataset(id, signal).then(place, (err: unknown) => {
            if (isAbort(err)) return;
            // Deleted meanwhile: stop asking; any other failure is tried again next round.
            if (err instanceof ApiError && err.status === 404) pending.delete(id);
          }),
        ),
      );
      schedule();
    }, REFRESH_MS);
  }

  async function load(): Promise<void> {
    try {
      const datasets = await api.datasets(signal);
      listErrors.clear();
      rows.clear();
      pending.clear();
      datasets.forEach(place);
      tbody.replaceChildren(
        ...(datasets.length
          ? [...rows.values()]
          : [messageRow(COLUMNS.length, "No datasets yet. Upload one above.")]),
      );
      schedule();
    } catch (err) {
      listErrors.show(err);
    }
  }

  await load();
}
