// The parallel-coordinates view's data: one axis per hyperparameter and one for the score, one
// line per scored trial through its values. No DOM, so it is unit-tested in Node; positions are
// fractions of an axis's height (0 at the bottom, 1 at the top) that the view scales to pixels.
import { formatNumber } from "../dom";
import { axisValues, hyperparameterNames, plottable, scoredTrials } from "./hyperparameterData";
import type { JobChartModel } from "./jobChartData";

export const SCORE_AXIS = "score (val. loss)";

export interface ParallelTick {
  /** 0 (bottom) to 1 (top). */
  at: number;
  label: string;
}

export interface ParallelAxis {
  name: string;
  kind: "number" | "category";
  /** Its values span two decades or more: read on a log scale, as the hyperparameter chart does. */
  log: boolean;
  /** Category levels, or the number line's lowest, middle and highest value. */
  ticks: ParallelTick[];
}

export interface ParallelLine {
  trial: number;
  score: number;
  best: boolean;
  /** One per axis, in axis order; null where the trial has no such hyperparameter. */
  at: (number | null)[];
}

export interface ParallelCoordinates {
  axes: ParallelAxis[];
  /** By trial number, the best trial last: drawn over the others. */
  lines: ParallelLine[];
  /** Hyperparameters every trial had the same value of: no axis, they would explain nothing. */
  constant: string[];
}

/** A category's level: evenly spaced, a lone one in the middle. */
const level = (index: number, count: number): number => (count > 1 ? index / (count - 1) : 0.5);

function numberScale(x: number[], log: boolean): { place: (v: number) => number; ticks: ParallelTick[] } {
  const t = log ? Math.log10 : (v: number) => v;
  const low = Math.min(...x);
  const high = Math.max(...x);
  const span = t(high) - t(low);
  const place = (v: number) => (span > 0 ? (t(v) - t(low)) / span : 0.5);
  const middle = log ? 10 ** ((t(low) + t(high)) / 2) : (low + high) / 2;
  const values = span > 0 ? [low, middle, high] : [low];
  return { place, ticks: values.map((v) => ({ at: place(v), label: formatNumber(v) })) };
}

/** Places every scored trial's values on its axis; `at` lists, per axis, each trial's place. */
function axis(name: string, values: (unknown | undefined)[]): { axis: ParallelAxis; at: (number | null)[]; distinct: number } {
  const present = values.map((v, i) => [v, i] as const).filter((p): p is readonly [string | number | boolean, number] => plottable(p[0]));
  const a = axisValues(present.map((p) => p[0]));
  const at: (number | null)[] = values.map(() => null);
  let ticks: ParallelTick[];
  if (a.kind === "category") {
    present.forEach(([, i], k) => (at[i] = level(a.x[k]!, a.categories.length)));
    ticks = a.categories.map((c, i) => ({ at: level(i, a.categories.length), label: c }));
  } else {
    const scale = numberScale(a.x, a.log);
    present.forEach(([, i], k) => (at[i] = scale.place(a.x[k]!)));
    ticks = scale.ticks;
  }
  return { axis: { name, kind: a.kind, log: a.log, ticks }, at, distinct: new Set(present.map((p) => String(p[0]))).size };
}

/**
 * The scored trials across the hyperparameters that vary between them (all of them while none
 * does, so a first trial still shows its values) and the score, the best trial marked.
 */
export function parallelCoordinates(model: JobChartModel, bestTrial: number | null): ParallelCoordinates {
  const trials = scoredTrials(model);
  const built = hyperparameterNames(model).map((name) => axis(name, trials.map((t) => t.hyperparameters![name])));
  const varying = built.filter((b) => b.distinct > 1);
  const shown = varying.length ? varying : built;
  const score = axis(SCORE_AXIS, trials.map((t) => t.score));
  const columns = [...shown, score];
  const lines = trials.map((t, i) => ({
    trial: t.number,
    score: t.score!,
    best: t.number === bestTrial,
    at: columns.map((c) => c.at[i] ?? null),
  }));
  return {
    axes: columns.map((c) => c.axis),
    lines: [...lines.filter((l) => !l.best), ...lines.filter((l) => l.best)],
    constant: varying.length ? built.filter((b) => b.distinct <= 1).map((b) => b.axis.name) : [],
  };
}
