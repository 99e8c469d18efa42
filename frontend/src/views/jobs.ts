import { api, type DatasetListItem, type Job } from "../api";
import { errorSlot, formatDate, h, messageRow, statusBadge, table } from "../dom";
import type { ViewContext } from "../router";

const REFRESH_MS = 3000;

export const isFinished = (status: string) => status === "SUCCEEDED" || status === "FAILED" || status === "CANCELLED";

function jobRow(job: Job, datasetNames: Map<string, string>): HTMLTableRowElement {
  const id = String(job.id);
  const datasetId = String(job.dataset);
  return h(
    "tr",
    { "data-testid": "job-row", "data-id": id },
    h("td", null, h("a", { href: `#/jobs/${encodeURIComponent(id)}` }, `Job #${id}`)),
    h("td", null, h("a", { href: `#/datasets/${encodeURIComponent(datasetId)}` }, datasetNames.get(datasetId) ?? `#${datasetId}`)),
    h("td", null, job.target),
    h("td", null, job.task_type ?? "—"),
    h("td", null, statusBadge(job.status)),
    h("td", null, formatDate(job.created_at)),
  );
}

export async function jobsView(root: HTMLElement, { signal }: ViewContext): Promise<void> {
  const errors = errorSlot();
  const tbody = h("tbody", null, messageRow(6, "Loading…"));
  root.append(
    h("div", { class: "section-head" }, h("h1", null, "Jobs"), h("a", { id: "new-job", class: "button", href: "#/jobs/new" }, "New job")),
    errors.el,
    table({ id: "jobs-table" }, ["Job", "Dataset", "Target", "Task", "Status", "Created"], tbody),
  );

  let timer: ReturnType<typeof setTimeout> | undefined;
  signal.addEventListener("abort", () => clearTimeout(timer));

  async function load(): Promise<void> {
    try {
      const [jobs, datasets] = await Promise.all([
        api.jobs(signal),
        // Names are a nicety; the list still works without them.
        api.datasets(signal).catch((): DatasetListItem[] => []),
      ]);
      errors.clear();
      const names = new Map(datasets.map((d) => [String(d.id), d.name]));
      tbody.replaceChildren(
        ...(jobs.length
          ? jobs.map((j) => jobRow(j, names))
          : [messageRow(6, "No jobs yet. Pick a dataset and start training.")]),
      );
      // Keep statuses fresh while something is still queued or running.
      if (jobs.some((j) => !isFinished(j.status)) && !signal.aborted) {
        timer = setTimeout(load, REFRESH_MS);
      }
    } catch (err) {
      errors.show(err);
    }
  }

  await load();
}
