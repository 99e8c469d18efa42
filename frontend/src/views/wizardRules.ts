// The new-job wizard's rules, without the DOM: its steps, the target and task type it
// suggests, the request it sends, where a server's field error belongs, and what a budget buys.
import type { BudgetPreset, Budgets, Column, ColumnProfile, Dataset, Id, NewJob, Queue, TaskType, Tuner } from "../types";

export type StepId = "dataset" | "target" | "budget" | "review";
export const STEPS: ReadonlyArray<{ id: StepId; title: string }> = [
  { id: "dataset", title: "Dataset" },
  { id: "target", title: "Target and task" },
  { id: "budget", title: "Budget and hardware" },
  { id: "review", title: "Review and create" },
];
export const isStep = (value: string | undefined): value is StepId => STEPS.some((s) => s.id === value);

export type Priority = "low" | "normal" | "high";
export type Delimiter = "" | ";" | "|" | ",";

/** What the person entered, as typed: number fields stay text so Back and Next keep them. */
export interface WizardState {
  dataset: string;
  target: string;
  taskType: TaskType | "";
  labelDelimiter: Delimiter;
  horizon: string;
  lookback: string;
  budget: BudgetPreset;
  maxSeconds: string;
  maxTrials: string;
  maxEpochs: string;
  tuner: Tuner | "";
  queue: Queue;
  priority: Priority;
  parallelTrials: string;
  seed: string;
}

export function initialState(dataset = ""): WizardState {
  return {
    dataset,
    target: "",
    taskType: "",
    labelDelimiter: "",
    horizon: "1",
    lookback: "",
    budget: "standard",
    maxSeconds: "",
    maxTrials: "",
    maxEpochs: "",
    tuner: "",
    queue: "cpu",
    priority: "normal",
    parallelTrials: "1",
    seed: "",
  };
}

/** The job's parts the API takes beyond `NewJob` (docs/api.md, POST /api/v1/jobs/). */
export type JobRequest = NewJob & { priority?: Priority; parallel_trials?: number };

// The API's request field → the step that holds it; anything else belongs to the review.
const FIELD_STEP: Record<string, StepId> = {
  dataset: "dataset",
  target: "target",
  task_type: "target",
  label_delimiter: "target",
  horizon: "target",
  lookback: "target",
  budget: "budget",
  max_seconds: "budget",
  max_trials: "budget",
  max_epochs: "budget",
  tuner: "budget",
  queue: "budget",
  priority: "budget",
  parallel_trials: "budget",
  seed: "budget",
};

export const stepOfField = (field: string): StepId => FIELD_STEP[field] ?? "review";

/** The first step holding one of these fields: where the person has something to fix. */
export function firstStepWithError(fields: string[]): StepId {
  const order = STEPS.map((s) => s.id);
  const steps = fields.map(stepOfField);
  return order.find((id) => steps.includes(id)) ?? "review";
}

const NOT_TARGETS = new Set(["identifier", "text", "constant", "datetime", "image_path"]);
// The server's: an integer target with more distinct values than this is a regression.
const MAX_CLASSES_FROM_INTEGERS = 20;

/** The columns a target can be chosen from; an image archive's target is implied. */
export function targetColumns(ds: Dataset): Column[] {
  if (ds.kind === "image") {
    return [ds.profile?.images?.task === "regression" ? { name: "value", type: "numeric" } : { name: "label", type: "categorical" }];
  }
  return ds.columns ?? [];
}

/** The profile's suggestion, else the last column that can be a target (a CSV's usual label). */
export function suggestTarget(ds: Dataset): string {
  const columns = targetColumns(ds);
  const suggested = ds.profile?.suggested_target;
  if (suggested && columns.some((c) => c.name === suggested)) return suggested;
  const usable = columns.filter((c) => !NOT_TARGETS.has(c.type));
  return (usable.at(-1) ?? columns.at(-1))?.name ?? "";
}

/** The task type for predicting `target`: the profile's own for its suggested target, else the
 * server's rules on the column's profile (two values: binary; fractions or many whole numbers:
 * regression; else classes). "" when nothing can be said: the server then decides. */
export function suggestTaskType(ds: Dataset, target: string): TaskType | "" {
  if (ds.kind === "timeseries") return "forecasting";
  if (ds.kind === "image") return target === "value" ? "regression" : "multiclass";
  const profile = ds.profile ?? {};
  if (target === profile.suggested_target && profile.suggested_task_type) return profile.suggested_task_type;
  const column: ColumnProfile | Column | undefined =
    profile.columns?.find((c) => c.name === target) ?? ds.columns?.find((c) => c.name === target);
  if (!column) return "";
  const distinct = "distinct" in column && typeof column.distinct === "number" ? column.distinct : null;
  if (column.type === "datetime" || column.type === "constant" || (distinct !== null && distinct < 2)) return "";
  if (distinct === 2 || column.type === "boolean") return "binary";
  if (column.type === "numeric") return "regression";
  if (column.type === "integer") return distinct !== null && distinct <= MAX_CLASSES_FROM_INTEGERS ? "multiclass" : "regression";
  if (column.type === "categorical") return "multiclass";
  return "";
}

const trimmed = (text: string) => text.trim();
const asNumber = (text: string) => Number(trimmed(text));

/** The request body: only what was chosen, so the server's defaults apply to the rest. */
export function requestBody(state: WizardState, ds: Pick<Dataset, "id" | "kind">): JobRequest {
  const body: JobRequest = { dataset: ds.id, target: state.target };
  if (state.taskType) body.task_type = state.taskType;
  if (state.taskType === "multilabel" && state.labelDelimiter) body.label_delimiter = state.labelDelimiter;
  if (state.taskType === "forecasting") {
    if (trimmed(state.horizon)) body.horizon = asNumber(state.horizon);
    if (trimmed(state.lookback)) body.lookback = asNumber(state.lookback);
  }
  // Exact seconds replace the preset (the API refuses both).
  if (trimmed(state.maxSeconds)) body.max_seconds = asNumber(state.maxSeconds);
  else body.budget = state.budget;
  if (trimmed(state.maxTrials)) body.max_trials = asNumber(state.maxTrials);
  if (trimmed(state.maxEpochs)) body.max_epochs = asNumber(state.maxEpochs);
  if (state.tuner) body.tuner = state.tuner;
  body.queue = state.queue;
  if (state.priority !== "normal") body.priority = state.priority;
  if (trimmed(state.parallelTrials) && asNumber(state.parallelTrials) !== 1) body.parallel_trials = asNumber(state.parallelTrials);
  if (trimmed(state.seed)) body.seed = asNumber(state.seed);
  return body;
}

/** Caps the API states (GET /api/v1/jobs/budgets/), with the documented values until it answers. */
export const DEFAULT_LIMITS: Budgets = {
  presets: { quick: 60, standard: 180, thorough: 600 },
  default: "standard",
  max_trials: 200,
  max_epochs: 300,
};

function wholeIn(text: string, min: number, max: number, what: string): string | null {
  if (!trimmed(text)) return null;
  const n = asNumber(text);
  if (!Number.isInteger(n) || n < min || n > max) return `${what} is a whole number from ${min} to ${max}.`;
  return null;
}

/** The step's fields that cannot be sent as they are, by API field name. The server checks
 * everything again; this only saves a round trip on what a form can see. */
export function validateStep(step: StepId, state: WizardState, limits: Budgets = DEFAULT_LIMITS): Record<string, string> {
  const errors: Record<string, string | null> = {};
  if (step === "dataset") {
    errors.dataset = state.dataset ? null : "Choose a dataset.";
  } else if (step === "target") {
    errors.target = state.target ? null : "Choose the column to predict.";
    if (state.taskType === "forecasting") {
      errors.horizon = trimmed(state.horizon) ? wholeIn(state.horizon, 1, 365, "The horizon") : "Give the horizon: steps ahead, 1 to 365.";
      errors.lookback = wholeIn(state.lookback, 1, 512, "The lookback");
    }
  } else if (step === "budget") {
    errors.max_seconds = wholeIn(state.maxSeconds, 10, 7 * 24 * 3600, "The time budget in seconds");
    errors.max_trials = wholeIn(state.maxTrials, 1, limits.max_trials, "Max trials");
    errors.max_epochs = wholeIn(state.maxEpochs, 1, limits.max_epochs, "Max epochs");
    errors.parallel_trials = wholeIn(state.parallelTrials, 1, 8, "Trials at once");
    errors.seed = wholeIn(state.seed, 0, 2147483647, "The seed");
  }
  return Object.fromEntries(Object.entries(errors).filter((e): e is [string, string] => e[1] !== null));
}

// ---- What a budget buys -------------------------------------------------------------------
// One simple rule from measured figures, not a prediction (docs/benchmarks.md, 2 CPU cores):
// - a table trains about 5,000 rows a second at the engine's batch of 32 (engine overhead:
//   8 trials x 10 epochs of 341 training rows in 5.4 s, per-trial costs included);
// - images about 1,000 a second (Keras backends: 4 trials x 5 epochs of ~1,080 digits in 21 s);
// - 60% of the rows train (60/20/20 split); the search gets 75% of the time, the rest goes to
//   the refit, the test scores and saving;
// - a trial without an epoch cap is taken to run twice its early-stopping patience.
export const ROWS_PER_SECOND = 5000;
export const IMAGES_PER_SECOND = 1000;
export const TRAIN_SHARE = 0.6;
export const SEARCH_SHARE = 0.75;

/** The engine's early-stopping patience for this many training rows (5 to 20 epochs). */
export function patience(trainRows: number): number {
  return Math.min(20, Math.max(5, Math.round(40 / Math.log10(Math.max(trainRows, 10)))));
}

export interface EstimateInput {
  rows: number;
  images: boolean;
  seconds: number;
  maxTrials: number | null;
  maxEpochs: number | null;
  parallel: number;
  trialsCap: number;
}

export interface Estimate {
  trials: number;
  epochs: number;
  trainRows: number;
  /** Wall-clock seconds the job is expected to take: its budget, or less when a cap ends it. */
  seconds: number;
  limitedBy: "time" | "trials";
  /** One trial needs more than the search's time: it is stopped at the limit. */
  trialCut: boolean;
}

export function estimate(input: EstimateInput): Estimate {
  const trainRows = Math.max(1, Math.round(input.rows * TRAIN_SHARE));
  const uncapped = 2 * patience(trainRows);
  const epochs = input.maxEpochs ? Math.min(input.maxEpochs, uncapped) : uncapped;
  const rate = input.images ? IMAGES_PER_SECOND : ROWS_PER_SECOND;
  const trialSeconds = (epochs * trainRows) / rate;
  const parallel = Math.max(1, input.parallel);
  const searchSeconds = input.seconds * SEARCH_SHARE;
  const cap = input.maxTrials ?? input.trialsCap;
  const fit = Math.floor((searchSeconds * parallel) / trialSeconds);
  const trials = Math.max(1, Math.min(cap, fit));
  const limitedBy = fit >= cap ? "trials" : "time";
  const seconds =
    limitedBy === "trials" ? Math.min(input.seconds, (Math.ceil(trials / parallel) * trialSeconds) / SEARCH_SHARE) : input.seconds;
  return { trials, epochs, trainRows, seconds, limitedBy, trialCut: fit < 1 };
}

/** Rounded so that it does not claim more than the rule knows: two significant figures. */
export function roughly(n: number): number {
  if (n < 20) return Math.round(n);
  const scale = 10 ** (Math.floor(Math.log10(n)) - 1);
  return Math.round(n / scale) * scale;
}

export function formatDuration(seconds: number): string {
  // Seconds would claim a precision the rule does not have.
  if (seconds < 60) return "under a minute";
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  return `${Math.round((seconds / 3600) * 10) / 10} h`;
}

const plural = (n: number, one: string, many: string) => `${n.toLocaleString("en")} ${n === 1 ? one : many}`;

export function describeEstimate(e: Estimate, rows: number, images: boolean): string {
  const unit = images ? ["image", "images"] : ["row", "rows"];
  const what = `${plural(roughly(e.trials), "trial", "trials")} of up to ${plural(e.epochs, "epoch", "epochs")}`;
  const data = `${plural(rows, unit[0]!, unit[1]!)} (${e.trainRows.toLocaleString("en")} to train)`;
  const span = formatDuration(e.seconds);
  const when = e.limitedBy === "time" ? `in ${span}` : e.seconds < 60 ? `finishing in ${span}` : `finishing in about ${span}`;
  const cut = e.trialCut ? " The budget is short for this much data: the first trial is stopped at the time limit." : "";
  return `About ${what} on ${data}, ${when}.${cut}`;
}

/** The estimate's inputs from the dataset and the entered budget. */
export function estimateFor(ds: Dataset, state: WizardState, limits: Budgets = DEFAULT_LIMITS): Estimate & { rows: number; images: boolean } {
  const images = ds.kind === "image";
  const rows = (images ? ds.profile?.images?.n_images : null) ?? ds.n_rows ?? ds.profile?.n_rows ?? 0;
  const number = (text: string) => (trimmed(text) && Number.isFinite(asNumber(text)) ? asNumber(text) : null);
  const seconds = number(state.maxSeconds) ?? limits.presets[state.budget] ?? DEFAULT_LIMITS.presets.standard;
  const e = estimate({
    rows,
    images,
    seconds,
    maxTrials: number(state.maxTrials),
    maxEpochs: number(state.maxEpochs),
    parallel: number(state.parallelTrials) ?? 1,
    trialsCap: limits.max_trials,
  });
  return { ...e, rows, images };
}

export const jobPath = (id: Id) => `#/jobs/${encodeURIComponent(String(id))}`;
