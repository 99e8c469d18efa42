import { ApiError, api, type Dataset, type DatasetOptions } from "../api";
import { errorSlot, formatBytes, h } from "../dom";
import { UploadCancelled, uploadFile, type Staged } from "../upload";

const ACCEPT = ".csv,.tsv,.gz,.parquet,.jsonl,.xlsx,.zip";

function select(id: string, name: string, options: Array<[string, string]>): HTMLSelectElement {
  return h("select", { id, name }, options.map(([value, label]) => h("option", { value }, label)));
}

/** "45 s", "3 min 20 s", "2 h 5 min": a time left, to the precision a person wants. */
function formatDuration(seconds: number): string {
  const s = Math.max(1, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export const datasetHref = (id: Dataset["id"]) => `#/datasets/${encodeURIComponent(String(id))}`;

/**
 * The upload form: the file goes up through tus (resumable, cancellable), then the dataset is
 * made from it with the chosen options. `onUploaded` hears about the new dataset.
 */
export function uploadForm(signal: AbortSignal, onUploaded: (ds: Dataset) => void): HTMLFormElement {
  const errors = errorSlot();
  const notice = h("p", { class: "notice", "aria-live": "polite" });
  const fileInput = h("input", { type: "file", id: "upload-file", name: "file", accept: ACCEPT });
  const nameInput = h("input", { type: "text", id: "upload-name", name: "name", placeholder: "defaults to the file name" });
  const kind = select("upload-kind", "kind", [
    ["auto", "auto"],
    ["tabular", "tabular"],
    ["text", "text"],
    ["timeseries", "timeseries"],
  ]);
  const encoding = select("upload-encoding", "encoding", [
    ["detect", "detect"],
    ["utf-8", "utf-8"],
    ["utf-8-sig", "utf-8-sig"],
    ["latin-1", "latin-1"],
    ["cp1252", "cp1252"],
  ]);
  const delimiter = select("upload-delimiter", "delimiter", [
    ["detect", "detect"],
    [",", ", (comma)"],
    [";", "; (semicolon)"],
    ["tab", "tab"],
    ["|", "| (pipe)"],
  ]);
  const header = h("input", { type: "checkbox", id: "upload-header", name: "header", checked: true });
  const textColumn = h("input", { type: "text", id: "upload-text-column", name: "text_column", placeholder: "text datasets" });
  const timestampColumn = h("input", { type: "text", id: "upload-timestamp-column", name: "timestamp_column", placeholder: "time series" });
  const submit = h("button", { type: "submit", id: "upload-submit" }, "Upload");

  const progress = h("progress", { id: "upload-progress", max: 1, value: 0, "aria-label": "Upload progress" });
  const percent = h("span", { id: "upload-percent", class: "percent" }, "0%");
  const phase = h("span", { id: "upload-phase", class: "hint" });
  const cancelButton = h("button", { type: "button", id: "upload-cancel", hidden: true }, "Cancel");
  const progressRow = h("div", { class: "progress-row", hidden: true }, progress, percent, phase, cancelButton);

  const form = h(
    "form",
    { id: "upload-form", class: "card" },
    h("h2", null, "Upload a dataset"),
    h("label", null, "File", fileInput, h("span", { class: "hint" }, "CSV, TSV, .gz, Parquet, JSON Lines, Excel, or a .zip of images")),
    h("label", null, "Name (optional)", nameInput),
    h(
      "details",
      { id: "upload-advanced" },
      h("summary", null, "Advanced options"),
      h(
        "div",
        { class: "fields" },
        h("label", null, "Kind", kind, h("span", { class: "hint" }, "a .zip of images is always an image dataset")),
        h("label", null, "Encoding", encoding),
        h("label", null, "Delimiter", delimiter),
        h("label", null, "Text column", textColumn),
        h("label", null, "Timestamp column", timestampColumn),
      ),
      h("label", { class: "inline" }, header, "The first row holds the column names"),
    ),
    h("div", { class: "actions" }, submit),
    progressRow,
    errors.el,
    notice,
  );

  function options(): DatasetOptions {
    const opts: DatasetOptions = { header: header.checked };
    const name = nameInput.value.trim();
    if (name) opts.name = name;
    if (kind.value !== "auto") opts.kind = kind.value as DatasetOptions["kind"];
    if (encoding.value !== "detect") opts.encoding = encoding.value as DatasetOptions["encoding"];
    if (delimiter.value !== "detect") opts.delimiter = (delimiter.value === "tab" ? "\t" : delimiter.value) as DatasetOptions["delimiter"];
    if (textColumn.value.trim()) opts.text_column = textColumn.value.trim();
    if (timestampColumn.value.trim()) opts.timestamp_column = timestampColumn.value.trim();
    return opts;
  }

  // Where this attempt started (bytes already on the server when resuming, and when), for
  // the speed and the time left.
  let start: { sent: number; at: number } | null = null;

  function showProgress(sent: number, total: number): void {
    progressRow.hidden = false;
    progress.max = Math.max(total, 1);
    progress.value = total === 0 ? 1 : sent;
    const pct = total === 0 ? 100 : Math.floor((sent / total) * 100);
    percent.textContent = `${pct}%`;
    const now = performance.now();
    if (start === null || sent < start.sent) start = { sent, at: now };
    const seconds = (now - start.at) / 1000;
    const rate = seconds > 0.2 ? (sent - start.sent) / seconds : 0;
    let text = `${formatBytes(sent)} of ${formatBytes(total)}`;
    if (rate > 0 && sent < total) {
      text += ` · ${formatBytes(Math.round(rate))}/s · ${formatDuration((total - sent) / rate)} left`;
    }
    phase.textContent = text;
  }

  // The last upload, kept after a failure so a retry resumes it and other options reuse it.
  let staged: Staged | null = null;

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    notice.replaceChildren();
    const file = fileInput.files?.[0];
    if (!file) {
      errors.show("Choose a file first.");
      return;
    }
    errors.clear();
    submit.disabled = true;
    start = null;
    const cancel = new AbortController();
    cancelButton.onclick = () => {
      cancelButton.disabled = true;
      phase.textContent = "Cancelling…";
      cancel.abort();
    };
    cancelButton.disabled = false;
    cancelButton.hidden = false;
    try {
      const id = await uploadFile(file, {
        staged,
        onStaged: (s) => {
          staged = s;
        },
        onProgress: (p) => showProgress(p.sent, p.total),
        signal,
        cancel: cancel.signal,
      });
      cancelButton.hidden = true;
      showProgress(file.size, file.size);
      phase.textContent = "Reading the file…";
      const ds = await api.createDataset(id, options(), signal);
      staged = null;
      phase.textContent = "";
      form.reset();
      if (ds.existing) {
        notice.replaceChildren(
          h(
            "span",
            { id: "upload-existing" },
            "You already uploaded this file: ",
            h("a", { href: datasetHref(ds.id) }, `${ds.name} (v${ds.version ?? 1})`),
          ),
        );
      } else {
        notice.textContent = `Uploaded “${ds.name}”.`;
      }
      onUploaded(ds);
    } catch (err) {
      if (err instanceof UploadCancelled) {
        staged = null;
        phase.textContent = "Cancelled; nothing of the file is kept on the server.";
        return;
      }
      if (err instanceof ApiError && err.status === 400 && staged) {
        phase.textContent = "The file is on the server: change the options and press Upload again.";
      } else if (staged) {
        phase.textContent = "Stopped; press Upload again to resume.";
      }
      errors.show(err);
    } finally {
      cancelButton.hidden = true;
      submit.disabled = false;
    }
  });
  return form;
}
