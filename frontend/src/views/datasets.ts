import { api, type Dataset, type NewJob, type TaskType } from "../api";
import {
  errorSlot,
  facts,
  formatBytes,
  formatDate,
  h,
  messageRow,
  statusBadge,
  table,
} from "../dom";
import { navigate, type ViewContext } from "../router";

function datasetRow(ds: Dataset): HTMLTableRowElement {
  const sha = ds.sha256 ?? "";
  return h(
    "tr",
    { "data-testid": "dataset-row", "data-id": String(ds.id) },
    h("td", null, ds.name),
    h("td", { class: "num" }, String(ds.n_rows ?? "—")),
    h("td", { class: "num" }, String(ds.n_columns ?? "—")),
    h("td", null, h("code", { title: sha }, sha.slice(0, 12))),
    h("td", null, statusBadge(ds.status)),
    h("td", null, h("a", { href: `#/datasets/${encodeURIComponent(String(ds.id))}` }, "Train")),
  );
}

export async function datasetsView(root: HTMLElement, { signal }: ViewContext): Promise<void> {
  const listErrors = errorSlot();
  const uploadErrors = errorSlot();
  const notice = h("p", { class: "notice", "aria-live": "polite" });
  const fileInput = h("input", { type: "file", id: "upload-file", name: "file", accept: ".csv,text/csv" });
  const nameInput = h("input", { type: "text", id: "upload-name", name: "name", placeholder: "defaults to the file name" });
  const submit = h("button", { type: "submit", id: "upload-submit" }, "Upload");
  const form = h(
    "form",
    { id: "upload-form", class: "card" },
    h("h2", null, "Upload a CSV"),
    h("label", null, "File", fileInput),
    h("label", null, "Name (optional)", nameInput),
    h("div", { class: "actions" }, submit),
    uploadErrors.el,
    notice,
  );
  const tbody = h("tbody", null, messageRow(6, "Loading…"));

  root.append(
    h("h1", null, "Datasets"),
    form,
    h("h2", null, "Your datasets"),
    listErrors.el,
    table({ id: "datasets-table" }, ["Name", "Rows", "Columns", "SHA-256", "Status", ""], tbody),
  );

  async function load(): Promise<void> {
    try {
      const datasets = await api.datasets(signal);
      listErrors.clear();
      tbody.replaceChildren(
        ...(datasets.length ? datasets.map(datasetRow) : [messageRow(6, "No datasets yet. Upload a CSV above.")]),
      );
    } catch (err) {
      listErrors.show(err);
    }
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    notice.textContent = "";
    const file = fileInput.files?.[0];
    if (!file) {
      uploadErrors.show("Choose a CSV file first.");
      return;
    }
    uploadErrors.clear();
    submit.disabled = true;
    try {
      const ds = await api.uploadDataset(file, nameInput.value.trim(), signal);
      form.reset();
      notice.textContent = `Uploaded “${ds.name}”.`;
      await load();
    } catch (err) {
      uploadErrors.show(err);
    } finally {
      submit.disabled = false;
    }
  });

  await load();
}

const TASK_TYPES: Array<[string, string]> = [
  ["", "Suggest from target"],
  ["binary", "binary"],
  ["multiclass", "multiclass"],
  ["regression", "regression"],
];

function jobForm(ds: Dataset, signal: AbortSignal): HTMLFormElement {
  const errors = errorSlot();
  const columns = ds.columns ?? [];
  const target = h(
    "select",
    { id: "job-target", name: "target", required: true },
    columns.map((c) => h("option", { value: c.name }, c.name)),
  );
  // The last column is the usual place for a label in a CSV.
  if (columns.length) target.selectedIndex = columns.length - 1;
  const targetType = h("span", { class: "hint" });
  const showType = () => {
    const col = columns.find((c) => c.name === target.value);
    targetType.textContent = col ? `type: ${col.type}` : "";
  };
  target.addEventListener("change", showType);
  showType();

  const taskType = h(
    "select",
    { id: "job-task-type", name: "task_type" },
    TASK_TYPES.map(([value, label]) => h("option", { value }, label)),
  );
  const maxTrials = h("input", { type: "number", id: "job-max-trials", name: "max_trials", min: 1, max: 50, step: 1, value: 2, required: true });
  const maxEpochs = h("input", { type: "number", id: "job-max-epochs", name: "max_epochs", min: 1, max: 200, step: 1, value: 5, required: true });
  const submit = h("button", { type: "submit", id: "job-submit", disabled: columns.length === 0 }, "Start training");

  const form = h(
    "form",
    { id: "job-form", class: "card" },
    h("label", null, "Target column", target, targetType),
    h("label", null, "Task type", taskType),
    h("div", { class: "row" }, h("label", null, "Max trials", maxTrials), h("label", null, "Max epochs", maxEpochs)),
    h("div", { class: "actions" }, submit),
    errors.el,
  );

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    errors.clear();
    const body: NewJob = {
      dataset: ds.id,
      target: target.value,
      max_trials: Number(maxTrials.value),
      max_epochs: Number(maxEpochs.value),
    };
    if (taskType.value) body.task_type = taskType.value as TaskType;
    submit.disabled = true;
    try {
      const job = await api.createJob(body, signal);
      navigate(`#/jobs/${encodeURIComponent(String(job.id))}`);
    } catch (err) {
      errors.show(err);
      submit.disabled = false;
    }
  });
  return form;
}

export async function datasetDetailView(root: HTMLElement, ctx: ViewContext): Promise<void> {
  const { params, signal } = ctx;
  const errors = errorSlot();
  root.append(h("p", { class: "crumbs" }, h("a", { href: "#/datasets" }, "← Datasets")), errors.el);

  let ds: Dataset;
  try {
    ds = await api.dataset(params.id!, signal);
  } catch (err) {
    errors.show(err);
    return;
  }

  const columns = ds.columns ?? [];
  const columnRows = h(
    "tbody",
    null,
    columns.length
      ? columns.map((c) => h("tr", { "data-testid": "column-row" }, h("td", null, c.name), h("td", null, c.type)))
      : messageRow(2, `No columns yet (status: ${ds.status}).`),
  );

  root.append(
    h("h1", null, ds.name),
    facts([
      ["Rows", String(ds.n_rows ?? "—")],
      ["Columns", String(ds.n_columns ?? "—")],
      ["Size", formatBytes(ds.size_bytes)],
      ["SHA-256", h("code", null, ds.sha256 ?? "")],
      ["Status", statusBadge(ds.status)],
      ["Uploaded", formatDate(ds.created_at)],
    ]),
    h("div", { class: "split" },
      h("div", null, h("h2", null, "Columns"), table({ id: "columns-table" }, ["Name", "Type"], columnRows)),
      h("div", null, h("h2", null, "Train a model"), jobForm(ds, signal)),
    ),
  );

  // Columns may still be in the making right after an upload; look again shortly.
  if (columns.length === 0 && !/fail|error|invalid/i.test(ds.status ?? "")) {
    const timer = setTimeout(() => {
      root.replaceChildren();
      void datasetDetailView(root, ctx);
    }, 1500);
    signal.addEventListener("abort", () => clearTimeout(timer));
  }
}
