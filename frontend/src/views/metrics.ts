import { formatNumber, h } from "../dom";
import { otherDetails, scalarMetrics } from "./metricsData";
import { resultCharts } from "./resultCharts";

type Importance = { feature: string; importance: number; std: number };
type ClassFigures = { precision: number; recall: number; f1: number; support: number };

/** Rows are the true classes, columns the predicted ones; each cell is shaded by its share of
 * its row, so the diagonal reads at a glance. */
function confusionTable(matrix: unknown, labels: unknown): HTMLElement | "" {
  if (!Array.isArray(matrix) || !Array.isArray(labels) || matrix.length !== labels.length) return "";
  const names = labels.map(String);
  const rows = matrix as number[][];
  const head = h("tr", null, h("th", { scope: "col" }, "true ↓ / predicted →"), ...names.map((n) => h("th", { scope: "col" }, n)));
  const body = rows.map((row, i) => {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    return h("tr", null, h("th", { scope: "row" }, names[i] ?? ""), ...row.map((count, j) => {
      const cell = h("td", { class: i === j ? "num hit" : "num", title: `${count} of ${total} “${names[i]}” rows predicted “${names[j]}”` }, String(count));
      // Set through the CSSOM: the page's policy allows no inline style attributes.
      cell.style.backgroundColor = `rgba(47, 91, 234, ${(0.08 + 0.5 * (count / total)).toFixed(2)})`;
      return cell;
    }));
  });
  return h("table", { id: "confusion-matrix", class: "narrow" }, h("caption", null, "Confusion matrix (test split)"), h("thead", null, head), h("tbody", null, body));
}

/** The single figures, one row each; nested results are `detailTables`'. */
export function scalarTable(all: Record<string, unknown>, id: string, empty: string): HTMLElement {
  const rows = scalarMetrics(all);
  return h("table", { id, class: "narrow" },
    h("tbody", null, rows.length
      ? rows.map(([k, v]) => h("tr", null, h("th", null, k), h("td", { class: "num" }, formatNumber(v))))
      : h("tr", { class: "empty" }, h("td", { colspan: 2 }, empty))));
}

function residualTable(residuals: { mean?: number; std?: number; quantiles?: Record<string, number> } | undefined): HTMLElement | "" {
  if (!residuals?.quantiles) return "";
  const rows: Array<[string, unknown]> = [["mean", residuals.mean], ["std. deviation", residuals.std],
    ...Object.entries(residuals.quantiles).map(([q, v]): [string, unknown] => [q === "p0" ? "lowest" : q === "p100" ? "highest" : `${q.slice(1)}th percentile`, v])];
  return h("table", { id: "residual-summary", class: "narrow" },
    h("caption", null, "Residuals (actual − predicted, test split)"),
    h("tbody", null, rows.map(([k, v]) => h("tr", null, h("th", { scope: "row" }, k), h("td", { class: "num" }, formatNumber(v))))));
}

/** Per-class figures, the confusion matrix, residuals, importance and the ROC/residual plots,
 * when the job reported them; nothing nested is ever shown as JSON text. */
export function detailTables(all: Record<string, unknown>, signal: AbortSignal): HTMLElement {
  // Multi-label jobs report the same figures per label.
  const perClass = (all.per_class ?? all.per_label ?? {}) as Record<string, ClassFigures>;
  const perStep = (all.per_step ?? []) as Array<Record<string, number>>;
  const importance = (all.feature_importance ?? []) as Importance[];
  const residuals = all.residuals as { mean?: number; std?: number; quantiles?: Record<string, number> } | undefined;
  const other = otherDetails(all);
  return h(
    "div",
    null,
    confusionTable(all.confusion_matrix, all.labels),
    Object.keys(perClass).length
      ? h("table", { id: "per-class" },
          h("thead", null, h("tr", null, ...["Class", "Precision", "Recall", "F1", "Rows"].map((c) => h("th", null, c)))),
          h("tbody", null, Object.entries(perClass).map(([label, c]) =>
            h("tr", null, h("td", null, label), h("td", { class: "num" }, formatNumber(c.precision)),
              h("td", { class: "num" }, formatNumber(c.recall)), h("td", { class: "num" }, formatNumber(c.f1)),
              h("td", { class: "num" }, formatNumber(c.support))))))
      : "",
    resultCharts(all, signal),
    residualTable(residuals),
    perStep.length
      ? h("table", { id: "per-step" },
          h("thead", null, h("tr", null, ...["Step ahead", "RMSE", "MAE", "R²", "Naive RMSE"].map((c) => h("th", null, c)))),
          h("tbody", null, perStep.map((s) =>
            h("tr", null, ...[s.step, s.rmse, s.mae, s.r2, s.naive_rmse].map((v) => h("td", { class: "num" }, formatNumber(v)))))))
      : "",
    importance.length
      ? h("table", { id: "feature-importance" },
          h("thead", null, h("tr", null, h("th", null, "Feature"), h("th", null, "Importance (score drop when shuffled)"))),
          h("tbody", null, importance.map((i) =>
            h("tr", null, h("td", null, i.feature), h("td", { class: "num" }, `${formatNumber(i.importance)} ± ${formatNumber(i.std)}`)))))
      : "",
    other.length
      ? h("table", { id: "other-metrics", class: "narrow" },
          h("tbody", null, other.map(([k, v]) => h("tr", null, h("th", null, k), h("td", { class: "num" }, v)))))
      : "",
  );
}
