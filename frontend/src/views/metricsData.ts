// Test metrics as people read them: single figures in one table, and the nested results (confusion
// matrix, per-class figures, ROC curve, residuals…) shaped for their own tables and charts.
// No DOM here, so every rule is unit-tested in plain Node.
import { formatNumber } from "../dom";

export type Scalar = number | string | boolean | null;
type AnyMetrics = Record<string, unknown> | null | undefined;

/** Nested results the version and job pages draw as their own tables or charts. */
export const DRAWN = new Set([
  "confusion_matrix",
  "labels",
  "per_class",
  "per_label",
  "per_step",
  "feature_importance",
  "residuals",
  "roc_curve",
  "roc_curves",
  "predictions_sample",
]);

const isScalar = (v: unknown): v is Scalar => v === null || ["number", "string", "boolean"].includes(typeof v);

/** The metrics that are one figure each, in the job's order. */
export function scalarMetrics(all: AnyMetrics): Array<[string, Scalar]> {
  return Object.entries(all ?? {}).filter((e): e is [string, Scalar] => isScalar(e[1]));
}

/**
 * Nested results nobody draws yet (a new task's figures), flattened to one readable row each:
 * `{a: {b: 1}}` is `a › b` = 1 and a list is its figures side by side, never JSON text.
 */
export function otherDetails(all: AnyMetrics): Array<[string, string]> {
  const rows: Array<[string, string]> = [];
  const walk = (path: string, v: unknown): void => {
    if (Array.isArray(v)) {
      rows.push([path, flatList(v)]);
    } else if (v !== null && typeof v === "object") {
      for (const [k, inner] of Object.entries(v)) walk(`${path} › ${k}`, inner);
    } else {
      rows.push([path, formatNumber(v)]);
    }
  };
  for (const [k, v] of Object.entries(all ?? {})) if (!isScalar(v) && !DRAWN.has(k)) walk(k, v);
  return rows;
}

function flatList(v: unknown[]): string {
  return v.map((x) => (Array.isArray(x) ? flatList(x) : x !== null && typeof x === "object" ? "…" : formatNumber(x))).join(Array.isArray(v[0]) ? " | " : ", ");
}

const finite = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** Two stored lists of equal length as (x, y) pairs sorted on x then y, dropping non-numbers;
 * null when the lists are missing or disagree. uPlot needs its x values sorted. */
function numberPairs(xs: unknown, ys: unknown): Array<readonly [number, number]> | null {
  if (!Array.isArray(xs) || !Array.isArray(ys) || xs.length !== ys.length) return null;
  const pairs = xs.map((x, i) => [x, ys[i]] as const).filter((p): p is readonly [number, number] => finite(p[0]) && finite(p[1]));
  return pairs.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
}

export interface RocLine {
  /** The class the curve is for (the positive class of two), null when not stored. */
  label: string | null;
  auc: number | null;
  /** True positive rate at each of the chart's x values; null where this curve has no point. */
  tpr: (number | null)[];
  points: number;
}

export interface Roc {
  /** False positive rate of every curve's points, merged and ascending: the x axis. */
  fpr: number[];
  /** Two classes: one line for the positive class; more: one per class against the rest. */
  lines: RocLine[];
  /** The chance line, y = x at each point. */
  chance: number[];
  /** The stored ROC AUC: the positive class's, or the classes' macro average. */
  auc: number | null;
  /** More than two classes, each a curve against all the others. */
  oneVsRest: boolean;
  points: number;
}

type StoredCurve = { fpr?: unknown; tpr?: unknown; positive?: unknown; label?: unknown; auc?: unknown };

/**
 * The stored ROC curves on one x axis: a two-class version's `roc_curve`, or the one-vs-rest
 * `roc_curves` of more classes; null when there is none to draw. uPlot takes one x array for
 * all its series, so each curve's points are merged into it and the other curves have null
 * there (drawn with their gaps spanned).
 */
export function rocCurves(all: AnyMetrics): Roc | null {
  const binary = all?.roc_curve as StoredCurve | undefined;
  const stored: StoredCurve[] = Array.isArray(all?.roc_curves) ? (all.roc_curves as StoredCurve[]) : binary ? [binary] : [];
  const curves = stored
    .map((c) => ({
      label: typeof c?.label === "string" ? c.label : typeof c?.positive === "string" ? c.positive : null,
      auc: finite(c?.auc) ? c.auc : null,
      // Ascending on both axes, as the curve climbs.
      pairs: numberPairs(c?.fpr, c?.tpr),
    }))
    .filter((c): c is typeof c & { pairs: Array<readonly [number, number]> } => c.pairs !== null && c.pairs.length >= 2);
  if (curves.length === 0) return null;
  // Every point once, by false positive rate; a curve's own points keep their order.
  const merged = curves
    .flatMap((c, line) => c.pairs.map(([x, y], k) => ({ x, y, line, k })))
    .sort((a, b) => a.x - b.x || a.line - b.line || a.k - b.k);
  const fpr = merged.map((p) => p.x);
  const storedAuc = finite(all?.roc_auc) ? all.roc_auc : null;
  return {
    fpr,
    lines: curves.map((c, line) => ({
      label: c.label,
      auc: curves.length === 1 && !Array.isArray(all?.roc_curves) ? storedAuc : c.auc,
      tpr: merged.map((p) => (p.line === line ? p.y : null)),
      points: c.pairs.length,
    })),
    chance: [...fpr],
    auc: storedAuc,
    oneVsRest: Array.isArray(all?.roc_curves),
    points: merged.length,
  };
}

export interface ResidualPlot {
  /** Predicted values, ascending: the x axis. */
  predicted: number[];
  /** actual − predicted, for each predicted value. */
  residual: number[];
  /** How many test rows the sample was drawn from. */
  of: number;
  points: number;
}

/** Residuals against predictions from a regression version's stored sample, or null. */
export function residualPlot(all: AnyMetrics): ResidualPlot | null {
  const s = all?.predictions_sample as { actual?: unknown; predicted?: unknown; of?: unknown } | undefined;
  const pairs = numberPairs(s?.predicted, s?.actual);
  if (!s || !pairs || pairs.length === 0) return null;
  return {
    predicted: pairs.map((p) => p[0]),
    residual: pairs.map(([p, a]) => a - p),
    of: finite(s.of) ? s.of : pairs.length,
    points: pairs.length,
  };
}
