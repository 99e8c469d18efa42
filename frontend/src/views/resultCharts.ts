// Plots of a version's test results: the ROC curve of a two-class model, residuals against
// predictions for a regression. Drawn from the metrics the engine stored; none when absent.
import { formatNumber, h } from "../dom";
import { chartShell, dots, draw, followWidth, roomyRange, type Chart } from "./chart";
import { residualPlot, rocCurve } from "./metricsData";

const COLORS = { curve: "#2f5bea", chance: "#8a8f98", zero: "#157f3c" };

function rocChart(all: Record<string, unknown>): Chart | null {
  const roc = rocCurve(all);
  if (!roc) return null;
  const chart = chartShell("roc-curve", `ROC curve (test split${roc.positive ? `, positive class “${roc.positive}”` : ""})`);
  chart.summary.textContent =
    `Area under the curve ${formatNumber(roc.auc)} (1 is perfect, 0.5 is chance); ${roc.points} points.`;
  return chart;
}

function residualChart(all: Record<string, unknown>): Chart | null {
  const r = residualPlot(all);
  if (!r) return null;
  const chart = chartShell("residual-plot", "Residuals against predictions (test split)");
  const spread = Math.max(...r.residual.map(Math.abs));
  chart.summary.textContent =
    `${r.points} of ${r.of} test rows; residuals reach ±${formatNumber(spread)}. ` +
    "Points scattered evenly around zero mean no pattern is left for the model to learn.";
  return chart;
}

/** The result plots in a grid, drawn once they are in the page (they need its width). */
export function resultCharts(all: Record<string, unknown>, signal: AbortSignal): HTMLElement | "" {
  const roc = rocChart(all);
  const residuals = residualChart(all);
  const charts = [roc, residuals].filter((c): c is Chart => c !== null);
  if (charts.length === 0) return "";
  const grid = h("div", { class: "chart-grid result-charts" }, charts.map((c) => c.figure));
  followWidth(charts, signal);
  requestAnimationFrame(() => {
    if (signal.aborted) return;
    const r = rocCurve(all);
    if (roc && r) {
      draw(roc, "roc", () => ({
        scales: { x: { time: false, range: [0, 1] }, y: { range: [0, 1] } },
        axes: [{ label: "false positive rate" }, { label: "true positive rate" }],
        series: [
          { label: "false positives" },
          { label: "model", stroke: COLORS.curve, width: 2, points: { show: false } },
          { label: "chance", stroke: COLORS.chance, width: 1, dash: [4, 4], points: { show: false } },
        ],
      }), [r.fpr, r.tpr, r.chance], r.points);
    }
    const p = residualPlot(all);
    if (residuals && p) {
      draw(residuals, "residuals", () => ({
        scales: { x: { time: false, range: roomyRange() } },
        axes: [{ label: "predicted" }, { label: "actual − predicted" }],
        series: [
          { label: "predicted" },
          dots("residual", COLORS.curve, 5),
          { label: "zero", stroke: COLORS.zero, width: 1, points: { show: false } },
        ],
      }), [p.predicted, p.residual, p.predicted.map(() => 0)], p.points);
    }
  });
  return grid;
}
