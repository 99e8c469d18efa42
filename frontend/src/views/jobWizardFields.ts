// The new-job wizard's form controls, one group per step, each with a place for the server's
// message about its field (named by the API's field name).
import type { Budgets, BudgetPreset, Dataset, DatasetListItem, Queue, TaskType, Tuner } from "../api";
import { h, type Child } from "../dom";
import { formatLimit } from "./jobCancel";
import { suggestTaskType, suggestTarget, targetColumns, type Delimiter, type Priority, type WizardState } from "./wizardRules";

const TASK_TYPES: Array<[TaskType, string]> = [
  ["binary", "binary (two classes)"],
  ["multiclass", "multiclass"],
  ["regression", "regression (a number)"],
  ["multilabel", "multi-label (labels like a;b)"],
  ["forecasting", "forecasting (time series)"],
];
const TUNERS: Array<[Tuner, string]> = [
  ["random", "Random search"],
  ["bayesian", "Bayesian optimisation"],
  ["hyperband", "Hyperband"],
];
const BUDGETS: Array<[BudgetPreset, string]> = [
  ["quick", "Quick"],
  ["standard", "Standard"],
  ["thorough", "Thorough"],
];
const QUEUES: Array<[Queue, string]> = [
  ["cpu", "CPU"],
  ["gpu", "GPU (waits for a GPU worker)"],
];

const options = (pairs: Array<[string, string]>) => pairs.map(([value, label]) => h("option", { value }, label));

/** A control with its label, an optional hint and the slot for its field's error. */
export interface Field {
  name: string;
  control: HTMLInputElement | HTMLSelectElement;
  error: HTMLElement;
  el: HTMLElement;
}

function field(name: string, label: string, control: HTMLInputElement | HTMLSelectElement, hint?: Child): Field {
  const error = h("p", { class: "field-error", id: `job-${name.replace(/_/g, "-")}-error`, hidden: true });
  const hintEl = hint ? h("small", { class: "muted", id: `${control.id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute("aria-describedby", hintEl.id);
  // The label holds its text only, so the control's name stays short; the hint and the error
  // are its description.
  return { name, control, error, el: h("div", { class: "field" }, h("label", { for: control.id }, label), control, hintEl, error) };
}

const numberInput = (id: string, min: number, max: number | null, placeholder: string, value = "") =>
  h("input", { type: "number", id, min, max, step: 1, placeholder, value, inputmode: "numeric" });

export interface Controls {
  fields: Field[];
  dataset: HTMLSelectElement;
  datasetFacts: HTMLElement;
  target: HTMLSelectElement;
  targetHint: HTMLElement;
  taskType: HTMLSelectElement;
  delimiter: HTMLSelectElement;
  horizon: HTMLInputElement;
  lookback: HTMLInputElement;
  multilabelOptions: HTMLElement;
  forecastOptions: HTMLElement;
  budget: HTMLSelectElement;
  maxSeconds: HTMLInputElement;
  maxTrials: HTMLInputElement;
  maxEpochs: HTMLInputElement;
  tuner: HTMLSelectElement;
  queue: HTMLSelectElement;
  priority: HTMLSelectElement;
  parallelTrials: HTMLInputElement;
  seed: HTMLInputElement;
  advanced: HTMLDetailsElement;
  liveEstimate: HTMLElement;
  /** Each step's body, without its heading. */
  bodies: Record<"dataset" | "target" | "budget", HTMLElement[]>;
}

export function buildControls(datasets: DatasetListItem[]): Controls {
  const dataset = h(
    "select",
    { id: "job-dataset" },
    h("option", { value: "" }, datasets.length ? "Choose a dataset…" : "No dataset is ready yet"),
    datasets.map((d) => h("option", { value: String(d.id) }, `${d.name} (v${d.version ?? 1})`)),
  );
  const datasetFacts = h("p", { id: "job-dataset-facts", class: "muted" });
  const target = h("select", { id: "job-target" });
  const targetHint = h("span", { id: "job-target-type" });
  const taskType = h("select", { id: "job-task-type" });
  const delimiter = h(
    "select",
    { id: "job-label-delimiter" },
    options([["", "detect"], [";", ";"], ["|", "|"], [",", ","]]),
  );
  const horizon = numberInput("job-horizon", 1, 365, "1", "1");
  const lookback = numberInput("job-lookback", 1, 512, "searched");
  const budget = h("select", { id: "job-budget" }, options(BUDGETS));
  budget.value = "standard";
  const maxSeconds = numberInput("job-max-seconds", 10, 604800, "use the preset");
  const maxTrials = numberInput("job-max-trials", 1, 200, "no cap (up to 200)");
  const maxEpochs = numberInput("job-max-epochs", 1, 300, "early stopping (up to 300)");
  const tuner = h("select", { id: "job-tuner" }, h("option", { value: "" }, "Default for the task"), options(TUNERS));
  const queue = h("select", { id: "job-queue" }, options(QUEUES));
  const priority = h("select", { id: "job-priority" }, options([["low", "low"], ["normal", "normal"], ["high", "high"]]));
  priority.value = "normal";
  const parallelTrials = numberInput("job-parallel-trials", 1, 8, "1", "1");
  const seed = numberInput("job-seed", 0, 2147483647, "random");

  const f = {
    dataset: field("dataset", "Dataset", dataset, "only datasets that are profiled and READY"),
    target: field("target", "Target column (what to predict)", target, targetHint),
    task_type: field("task_type", "Task type", taskType),
    label_delimiter: field("label_delimiter", "Label delimiter", delimiter),
    horizon: field("horizon", "Horizon (steps ahead)", horizon),
    lookback: field("lookback", "Lookback (rows)", lookback, "empty: searched"),
    budget: field("budget", "Time budget", budget, "the search fits as many trials and epochs in it as it can"),
    max_seconds: field("max_seconds", "Wall-clock seconds (replaces the preset)", maxSeconds),
    max_trials: field("max_trials", "Max trials", maxTrials),
    max_epochs: field("max_epochs", "Max epochs per trial", maxEpochs),
    tuner: field("tuner", "Tuner", tuner, "default: random search, bayesian for forecasting"),
    queue: field("queue", "Hardware", queue),
    priority: field("priority", "Priority in the queue", priority, "default: normal"),
    parallel_trials: field("parallel_trials", "Trials at once", parallelTrials, "default 1; random and bayesian tuners only"),
    seed: field("seed", "Seed", seed, "empty: drawn at random and recorded"),
  };
  const multilabelOptions = h("div", { id: "job-multilabel-options" }, f.label_delimiter.el);
  const forecastOptions = h("div", { class: "fields", id: "job-forecast-options" }, f.horizon.el, f.lookback.el);
  // Exact seconds replace the preset (the API refuses both).
  maxSeconds.addEventListener("input", () => {
    budget.disabled = maxSeconds.value.trim() !== "";
  });
  const advanced = h(
    "details",
    { id: "job-advanced" },
    h("summary", null, "Advanced: search options (defaults shown)"),
    h("div", { class: "fields" }, f.tuner.el, f.parallel_trials.el, f.priority.el, f.seed.el),
  );
  const liveEstimate = h("p", { id: "job-estimate-live", class: "note", "aria-live": "polite" });
  return {
    fields: Object.values(f),
    dataset,
    datasetFacts,
    target,
    targetHint,
    taskType,
    delimiter,
    horizon,
    lookback,
    multilabelOptions,
    forecastOptions,
    budget,
    maxSeconds,
    maxTrials,
    maxEpochs,
    tuner,
    queue,
    priority,
    parallelTrials,
    seed,
    advanced,
    liveEstimate,
    bodies: {
      dataset: [f.dataset.el, datasetFacts],
      target: [f.target.el, f.task_type.el, multilabelOptions, forecastOptions],
      budget: [
        f.budget.el,
        h("div", { class: "fields" }, f.max_seconds.el, f.max_trials.el, f.max_epochs.el, f.queue.el),
        advanced,
        liveEstimate,
      ],
    },
  };
}

/** The presets' seconds and the caps, once the server has said them. */
export function applyLimits(c: Controls, limits: Budgets): void {
  for (const option of Array.from(c.budget.options)) {
    const seconds = limits.presets[option.value as BudgetPreset];
    const name = BUDGETS.find(([v]) => v === option.value)?.[1] ?? option.value;
    if (seconds !== undefined) option.textContent = `${name} — ${formatLimit(seconds)}`;
  }
  c.maxTrials.max = String(limits.max_trials);
  c.maxEpochs.max = String(limits.max_epochs);
  c.maxTrials.placeholder = `no cap (up to ${limits.max_trials})`;
  c.maxEpochs.placeholder = `early stopping (up to ${limits.max_epochs})`;
}

/** The target and task options of a dataset, marking the suggestions. */
export function fillTargets(c: Controls, ds: Dataset): void {
  const suggested = suggestTarget(ds);
  c.target.replaceChildren(
    ...targetColumns(ds).map((col) => h("option", { value: col.name }, col.name === suggested ? `${col.name} (suggested)` : col.name)),
  );
  c.target.disabled = ds.kind === "image"; // implied by the archive
  const rows = ds.n_rows ?? ds.profile?.n_rows;
  const images = ds.profile?.images?.n_images;
  c.datasetFacts.textContent =
    ds.kind === "image"
      ? `Images: ${images ?? "?"}; the target is the archive's ${suggested}.`
      : `${ds.kind}: ${rows ?? "?"} rows × ${ds.n_columns ?? ds.columns.length} columns; suggested target: ${suggested || "none"}.`;
}

export function fillTaskTypes(c: Controls, ds: Dataset, target: string): void {
  const suggested = suggestTaskType(ds, target);
  c.taskType.replaceChildren(
    h("option", { value: "" }, suggested ? "Let the server decide" : "Let the server decide (no suggestion for this column)"),
    ...TASK_TYPES.map(([value, label]) => h("option", { value }, value === suggested ? `${label} (suggested)` : label)),
  );
  const col = ds.profile?.columns?.find((p) => p.name === target) ?? ds.columns.find((p) => p.name === target);
  const distinct = col && "distinct" in col && typeof col.distinct === "number" ? `, ${col.distinct} distinct` : "";
  c.targetHint.textContent = col ? `type: ${col.type}${distinct}` : "";
}

/** What the controls hold now. */
export function readControls(c: Controls): Omit<WizardState, "dataset"> {
  return {
    target: c.target.value,
    taskType: c.taskType.value as TaskType | "",
    labelDelimiter: c.delimiter.value as Delimiter,
    horizon: c.horizon.value,
    lookback: c.lookback.value,
    budget: c.budget.value as BudgetPreset,
    maxSeconds: c.maxSeconds.value,
    maxTrials: c.maxTrials.value,
    maxEpochs: c.maxEpochs.value,
    tuner: c.tuner.value as Tuner | "",
    queue: c.queue.value as Queue,
    priority: c.priority.value as Priority,
    parallelTrials: c.parallelTrials.value,
    seed: c.seed.value,
  };
}

/** Puts a state back (a reload's draft); the target and task options must be filled first. */
export function writeControls(c: Controls, s: WizardState): void {
  c.dataset.value = s.dataset;
  c.target.value = s.target;
  c.taskType.value = s.taskType;
  c.delimiter.value = s.labelDelimiter;
  c.horizon.value = s.horizon;
  c.lookback.value = s.lookback;
  c.budget.value = s.budget;
  c.maxSeconds.value = s.maxSeconds;
  c.budget.disabled = s.maxSeconds.trim() !== "";
  c.maxTrials.value = s.maxTrials;
  c.maxEpochs.value = s.maxEpochs;
  c.tuner.value = s.tuner;
  c.queue.value = s.queue;
  c.priority.value = s.priority;
  c.parallelTrials.value = s.parallelTrials;
  c.seed.value = s.seed;
  showTaskOptions(c);
}

/** Only the chosen task's own options are shown. */
export function showTaskOptions(c: Controls): void {
  c.multilabelOptions.hidden = c.taskType.value !== "multilabel";
  c.forecastOptions.hidden = c.taskType.value !== "forecasting";
}

/** A dataset page's way into the wizard, with the suggestions it will start from. */
export function trainCard(ds: Dataset): HTMLElement {
  const target = suggestTarget(ds);
  const task = target ? suggestTaskType(ds, target) : "";
  return h(
    "div",
    { class: "card", id: "train-card" },
    h("h2", null, "Train a model"),
    h(
      "p",
      { class: "muted" },
      target ? `Suggested: predict “${target}”${task ? ` (${task})` : ""}. Every choice can be changed in the wizard.` : "Choose the column to predict in the wizard.",
    ),
    h("a", { id: "train-link", class: "button", href: `#/jobs/new/${encodeURIComponent(String(ds.id))}` }, "New training job"),
  );
}
