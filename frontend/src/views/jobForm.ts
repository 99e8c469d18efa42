import { api, type BudgetPreset, type Column, type Dataset, type NewJob, type Queue, type TaskType, type Tuner } from "../api";
import { errorSlot, h } from "../dom";
import { navigate } from "../router";
import { formatLimit } from "./jobCancel";

const TASK_TYPES: Array<[string, string]> = [
  ["", "Suggest from target"],
  ["binary", "binary"],
  ["multiclass", "multiclass"],
  ["regression", "regression"],
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
const presetLabel = (value: string) => BUDGETS.find(([v]) => v === value)?.[1] ?? value;

const QUEUES: Array<[Queue, string]> = [
  ["cpu", "CPU"],
  ["gpu", "GPU (waits for a GPU worker)"],
];

/** Start a training job on a READY table (pre-set to the profile's suggested target and task)
 * or image archive. */
export function jobForm(ds: Dataset, signal: AbortSignal): HTMLFormElement {
  const errors = errorSlot();
  const profile = ds.profile ?? {};
  // An image archive has no columns: its target is implied, "label" (classes) or "value".
  const columns: Column[] =
    ds.kind === "image"
      ? [profile.images?.task === "regression" ? { name: "value", type: "numeric" } : { name: "label", type: "categorical" }]
      : ds.columns ?? [];
  const target = h(
    "select",
    { id: "job-target", name: "target", required: true },
    columns.map((c) => h("option", { value: c.name }, c.name)),
  );
  const suggested = profile.suggested_target;
  const suggestedIndex = suggested ? columns.findIndex((c) => c.name === suggested) : -1;
  // Otherwise the last column, the usual place for a label in a CSV.
  if (suggestedIndex >= 0) target.selectedIndex = suggestedIndex;
  else if (columns.length) target.selectedIndex = columns.length - 1;
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
  const suggestedTask = profile.suggested_task_type;
  // The suggestion belongs to the suggested target; another target gets the server's own guess.
  if (suggestedTask && TASK_TYPES.some(([v]) => v === suggestedTask) && suggestedIndex >= 0) {
    taskType.value = suggestedTask;
    target.addEventListener("change", () => {
      if (target.value !== suggested && taskType.value === suggestedTask) taskType.value = "";
      else if (target.value === suggested && taskType.value === "") taskType.value = suggestedTask;
    });
  }
  // Options of the multi-label and forecasting tasks, shown only for them.
  const delimiter = h(
    "select",
    { id: "job-label-delimiter", name: "label_delimiter" },
    [["", "detect"], [";", ";"], ["|", "|"], [",", ","]].map(([value, label]) => h("option", { value }, label)),
  );
  const horizon = h("input", { type: "number", id: "job-horizon", name: "horizon", min: 1, max: 365, step: 1, value: 1 });
  const lookback = h("input", { type: "number", id: "job-lookback", name: "lookback", min: 1, max: 512, step: 1, placeholder: "searched" });
  const multilabelOptions = h("label", { id: "job-multilabel-options" }, "Label delimiter", delimiter);
  const forecastOptions = h(
    "div",
    { class: "row", id: "job-forecast-options" },
    h("label", null, "Horizon (steps ahead)", horizon),
    h("label", null, "Lookback (rows, optional)", lookback),
  );
  // A time series is there to be forecast; another task can still be chosen.
  if (ds.kind === "timeseries") taskType.value = "forecasting";
  const showOptions = () => {
    multilabelOptions.hidden = taskType.value !== "multilabel";
    forecastOptions.hidden = taskType.value !== "forecasting";
  };
  taskType.addEventListener("change", showOptions);
  showOptions();
  // Time is the control: a preset, or exact seconds under "Advanced". The presets' seconds and
  // the caps' limits come from the server once it answers.
  const budget = h(
    "select",
    { id: "job-budget", name: "budget" },
    BUDGETS.map(([value, label]) => h("option", { value }, label)),
  );
  budget.value = "standard";
  const maxSeconds = h("input", { type: "number", id: "job-max-seconds", name: "max_seconds", min: 10, max: 604800, step: 1, placeholder: "use the preset" });
  const maxTrials = h("input", { type: "number", id: "job-max-trials", name: "max_trials", min: 1, step: 1, placeholder: "no cap" });
  const maxEpochs = h("input", { type: "number", id: "job-max-epochs", name: "max_epochs", min: 1, step: 1, placeholder: "no cap" });
  const seed = h("input", { type: "number", id: "job-seed", name: "seed", min: 0, max: 2147483647, step: 1, placeholder: "random" });
  // Exact seconds replace the preset (the API refuses both).
  maxSeconds.addEventListener("input", () => {
    budget.disabled = maxSeconds.value.trim() !== "";
  });
  void api.jobBudgets(signal).then(
    (known) => {
      for (const option of Array.from(budget.options)) {
        const seconds = known.presets[option.value as BudgetPreset];
        if (seconds !== undefined) option.textContent = `${presetLabel(option.value)} — ${formatLimit(seconds)}`;
      }
      budget.value = known.default;
      maxTrials.max = String(known.max_trials);
      maxEpochs.max = String(known.max_epochs);
    },
    () => undefined, // the names alone still make a valid request
  );
  const tuner = h(
    "select",
    { id: "job-tuner", name: "tuner" },
    [h("option", { value: "" }, "Default for the task"), ...TUNERS.map(([value, label]) => h("option", { value }, label))],
  );
  tuner.value = "";
  const queue = h(
    "select",
    { id: "job-queue", name: "queue" },
    QUEUES.map(([value, label]) => h("option", { value }, label)),
  );
  queue.value = "cpu";
  const advanced = h(
    "details",
    { id: "job-advanced" },
    h("summary", null, "Advanced: exact time, caps, seed, tuner"),
    h("label", null, "Time budget (seconds, replaces the preset)", maxSeconds),
    h("div", { class: "row" }, h("label", null, "Max trials", maxTrials), h("label", null, "Max epochs per trial", maxEpochs)),
    h("div", { class: "row" }, h("label", null, "Seed (empty: random)", seed), h("label", null, "Tuner", tuner)),
  );
  const submit = h("button", { type: "submit", id: "job-submit", disabled: columns.length === 0 }, "Start training");

  const form = h(
    "form",
    { id: "job-form", class: "card" },
    h("h2", null, "Train a model"),
    h("label", null, "Target column", target, targetType),
    h("label", null, "Task type", taskType),
    multilabelOptions,
    forecastOptions,
    h(
      "label",
      null,
      "Time budget",
      budget,
      // Not "hint": that class is the target's type, next to it.
      h("small", { class: "muted" }, "the search decides how many trials and epochs fit in it"),
    ),
    h("label", null, "Run on", queue),
    advanced,
    h("div", { class: "actions" }, submit),
    errors.el,
  );

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    errors.clear();
    const body: NewJob = { dataset: ds.id, target: target.value };
    if (maxSeconds.value.trim() !== "") body.max_seconds = Number(maxSeconds.value);
    else body.budget = budget.value as BudgetPreset;
    if (maxTrials.value.trim() !== "") body.max_trials = Number(maxTrials.value);
    if (maxEpochs.value.trim() !== "") body.max_epochs = Number(maxEpochs.value);
    if (seed.value.trim() !== "") body.seed = Number(seed.value);
    if (taskType.value) body.task_type = taskType.value as TaskType;
    if (taskType.value === "multilabel" && delimiter.value) body.label_delimiter = delimiter.value as NewJob["label_delimiter"];
    if (!forecastOptions.hidden) {
      body.horizon = Number(horizon.value);
      if (lookback.value.trim() !== "") body.lookback = Number(lookback.value);
    }
    if (tuner.value) body.tuner = tuner.value as Tuner;
    body.queue = queue.value as Queue;
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
