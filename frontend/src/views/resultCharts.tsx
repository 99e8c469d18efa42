// Plots of a version's test results: the ROC curve of a two-class model (one per class against
// the rest for more classes), residuals against predictions for a regression. Drawn from the metrics the engine stored; none when absent.
import type { ReactNode } from "react";
import { formatNumber, h } from "../dom";
import { DomMount } from "../ui/DomMount";
import { chartShell, dots, draw, followWidth, PALETTE, roomyRange, type Chart } from "./chart";
import { residualPlot, rocCurves, type Roc, type RocLine } from "./metricsData";

const COLORS = { curve: PALETTE[0], chance: "#8a8f98", zero: "#157f3c" };

function rocSummary(roc: Roc): string {
  if (!roc.oneVsRest) return `Area under the curve ${formatNumber(roc.auc)} (1 is perfect, 0.5 is chance); ${roc.points} points.`;
  const ranked = roc.lines.filter((l) => l.auc !== null).sort((a, b) => a.auc! - b.auc!);
  const named = (l: RocLine | undefined) => (l ? `“${l.label ?? "?"}” ${formatNumber(l.auc)}` : "—");
  return `Macro-average area under the curves ${formatNumber(roc.auc)} over ${roc.lines.length} classes, each against ` +
    `the rest (1 is perfect, 0.5 is chance); lowest ${named(ranked[0])}, highest ${named(ranked[ranked.length - 1])}; ` +
    `${roc.points} points.`;
}

function rocChart(all: Record<string, unknown>): Chart | null {
  const roc = rocCurves(all);
  if (!roc) return null;
  const positive = roc.lines[0]?.label;
  const caption = roc.oneVsRest
    ? "ROC curves (test split, each class against the rest)"
    : `ROC curve (test split${positive ? `, positive class “${positive}”` : ""})`;
  const chart = chartShell("roc-curve", caption);
  chart.summary.textContent = rocSummary(roc);
  return chart;
}

/** The legend's name of a curve: its class and AUC when there are several. */
const lineLabel = (roc: Roc, l: RocLine): string => (roc.oneVsRest ? `${l.label ?? "?"} (AUC ${formatNumber(l.auc)})` : "model");

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
    const r = rocCurves(all);
    if (roc && r) {
      draw(roc, JSON.stringify(r.lines.map((l) => l.label)), () => ({
        scales: { x: { time: false, range: [0, 1] }, y: { range: [0, 1] } },
        axes: [{ label: "false positive rate" }, { label: "true positive rate" }],
        series: [
          { label: "false positives" },
          // Each curve has points only where the merged x axis holds its own: join across the rest.
          ...r.lines.map((l, i) => ({ label: lineLabel(r, l), stroke: PALETTE[i % PALETTE.length], width: 2, spanGaps: true, points: { show: false } })),
          { label: "chance", stroke: COLORS.chance, width: 1, dash: [4, 4], points: { show: false } },
        ],
      }), [r.fpr, ...r.lines.map((l) => l.tpr), r.chance], r.points);
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

/** The result plots for a React page: uPlot draws into a host React leaves alone. */
export function ResultCharts({ all }: { all: Record<string, unknown> }): ReactNode {
  const roc = rocCurves(all);
  const residuals = residualPlot(all);
  if (!roc && !residuals) return null;
  return (
    <DomMount
      deps={[JSON.stringify([roc, residuals])]}
      build={(host, signal) => {
        const grid = resultCharts(all, signal);
        if (grid) host.append(grid);
      }}
    />
  );
}
