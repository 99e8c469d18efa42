// The hyperparameter chart's data: one point per scored trial, the chosen hyperparameter's value
// on x and the trial's score on y. No DOM and no chart library, so it is unit-tested in Node.
import type { JobChartModel, TrialRecord } from "./jobChartData";

const scored = (t: TrialRecord): boolean => t.status === "COMPLETED" && t.score !== null && t.hyperparameters !== null;

/** The finished trials with a score and their hyperparameters, by number. */
export function scoredTrials(model: JobChartModel): TrialRecord[] {
  return [...model.trials.values()].filter(scored).sort((a, b) => a.number - b.number);
}

/**
 * The hyperparameters of the scored trials: those whose value differs between trials first
 * (they are what the chart can explain), each group in the order the trials reported them.
 */
export function hyperparameterNames(model: JobChartModel): string[] {
  const values = new Map<string, Set<string>>();
  for (const t of scoredTrials(model)) {
    for (const [k, v] of Object.entries(t.hyperparameters!)) {
      if (!plottable(v)) continue; // nothing a point on an axis can show
      if (!values.has(k)) values.set(k, new Set());
      values.get(k)!.add(String(v));
    }
  }
  const names = [...values.keys()];
  return [...names.filter((n) => values.get(n)!.size > 1), ...names.filter((n) => values.get(n)!.size <= 1)];
}

/** A value an axis can show: a number, text or a flag, not a list or a map. */
export const plottable = (v: unknown): v is string | number | boolean => v !== undefined && v !== null && typeof v !== "object";

export interface AxisValues {
  /** Numbers on a number line; anything else (or a mix) as categories at 0, 1, 2… */
  kind: "number" | "category";
  /** The categories in axis order, for a category kind. */
  categories: string[];
  /** A positive range of at least two decades (learning rates): a log axis reads it. */
  log: boolean;
  /** Each value's place on the axis: itself, or its category's index. */
  x: number[];
}

/** How one hyperparameter's values (of several trials) sit on an axis. */
export function axisValues(raw: readonly (string | number | boolean)[]): AxisValues {
  const numeric = raw.every((v) => typeof v === "number" && Number.isFinite(v));
  if (!numeric) {
    const categories = [...new Set(raw.map(String))].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
    return { kind: "category", categories, log: false, x: raw.map((v) => categories.indexOf(String(v))) };
  }
  const x = raw as number[];
  const low = Math.min(...x);
  const high = Math.max(...x);
  return { kind: "number", categories: [], log: x.length > 1 && low > 0 && high / low >= 100, x };
}

export interface HyperparameterScatter extends Omit<AxisValues, "x"> {
  name: string;
  /** x values, ascending (ties in trial order): uPlot needs its x sorted. */
  xs: number[];
  trials: number[];
  scores: number[];
  /** The best trial's score at its x, null elsewhere: drawn over the others. */
  best: (number | null)[];
  points: number;
}

/** Each scored trial that has `name`, as a point (value, score); the best trial marked. */
export function hyperparameterScatter(model: JobChartModel, name: string, bestTrial: number | null): HyperparameterScatter {
  const trials = scoredTrials(model).filter((t) => plottable(t.hyperparameters![name]));
  const { kind, categories, log, x } = axisValues(trials.map((t) => t.hyperparameters![name] as string | number | boolean));
  const order = trials.map((_, i) => i).sort((a, b) => x[a]! - x[b]! || trials[a]!.number - trials[b]!.number);
  const xs = order.map((i) => x[i]!);
  return {
    name,
    kind,
    categories,
    log,
    xs,
    trials: order.map((i) => trials[i]!.number),
    scores: order.map((i) => trials[i]!.score!),
    best: order.map((i) => (trials[i]!.number === bestTrial ? trials[i]!.score : null)),
    points: xs.length,
  };
}
