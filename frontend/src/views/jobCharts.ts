// The job page's charts: learning curves, best score so far, hyperparameters against the score,
// and progress against the budget.
import uPlot from "uplot";
import type { Job } from "../types";
import { formatNumber, h } from "../dom";
import { chartShell, dots, draw, followWidth, WHOLE } from "./chart";
import { hyperparameterChart } from "./hyperparameterChart";
import {
  bestSoFar,
  bestTrial,
  formatDuration,
  learningCurves,
  progress,
  type JobChartModel,
  type LearningCurves,
} from "./jobChartData";

const COLORS = { current: "#2f5bea", best: "#157f3c", score: "#a15c00" };

function curveSummary(c: LearningCurves): string {
  if (!c.metric || c.series.length === 0) return "No epochs reported yet.";
  const parts = c.series.map((s) => {
    let last = -1;
    s.values.forEach((v, i) => {
      if (v !== null) last = i;
    });
    if (last < 0) return `${s.label}: no ${c.metric} yet`;
    const low = Math.min(...s.values.filter((v): v is number => v !== null));
    return `${s.label}: ${c.metric} ${formatNumber(s.values[last])} at epoch ${c.epochs[last]}, lowest ${formatNumber(low)}`;
  });
  return `${parts.join("; ")}.`;
}

export interface JobCharts {
  el: HTMLElement;
  update(model: JobChartModel, job: Job): void;
}

/** The charts' section; `update` redraws at most once a frame however fast events arrive. */
export function jobCharts(signal: AbortSignal): JobCharts {
  const curves = chartShell("learning-curve", "Learning curves: running trial and best trial so far");
  const best = chartShell("best-so-far", "Best score so far by finished trial");
  const hp = hyperparameterChart(signal);
  const bar = h("progress", { id: "job-progress", max: 1 });
  const barText = h("span", { id: "job-progress-text", class: "hint" }, "");
  const barRow = h("div", { id: "job-progress-row", class: "progress-row", hidden: true }, bar, barText);
  const el = h("section", { class: "job-charts", "aria-label": "Charts" }, barRow, h("div", { class: "chart-grid" }, curves.figure, best.figure, hp.figure));

  let pending = 0;
  let latest: { model: JobChartModel; job: Job } | null = null;
  // The ETA counts down between events while the job runs.
  const ticker = setInterval(() => latest && renderProgress(latest.model, latest.job), 1000);

  followWidth([curves, best], signal);
  signal.addEventListener("abort", () => {
    clearInterval(ticker);
    cancelAnimationFrame(pending);
  });

  function renderProgress(model: JobChartModel, job: Job): void {
    const running = job.status === "RUNNING" || job.status === "QUEUED";
    barRow.hidden = !running;
    if (!running) return;
    const p = progress(model, job, Date.now());
    if (p.fraction === null) bar.removeAttribute("value");
    else bar.value = p.fraction;
    const of = p.total === null ? "" : ` of ${p.total}`;
    const eta = p.etaSeconds === null ? "estimating time left…" : `about ${formatDuration(p.etaSeconds)} left`;
    const text = `${p.done}${of} trials finished · ${eta}`;
    barText.textContent = text;
    bar.setAttribute("aria-label", text);
  }

  function render(model: JobChartModel, job: Job): void {
    const jobBest = job.status === "SUCCEEDED" && job.best_trial !== null ? Number(job.best_trial) : null;
    const c = learningCurves(model, jobBest);
    draw(
      curves,
      JSON.stringify([c.metric, c.series.map((s) => s.label)]),
      () => ({
        scales: { x: { time: false } },
        axes: [{ label: "epoch", incrs: WHOLE }, { label: c.metric ?? "" }],
        series: [
          { label: "epoch" },
          ...c.series.map((s) => ({
            label: s.label,
            stroke: COLORS[s.role],
            width: 2,
            points: { show: true, size: 5 },
          })),
        ],
      }),
      [c.epochs, ...c.series.map((s) => s.values)],
      c.points,
    );
    curves.summary.textContent = curveSummary(c);

    const b = bestSoFar(model);
    draw(
      best,
      "best",
      () => ({
        scales: { x: { time: false } },
        axes: [{ label: "finished trials", incrs: WHOLE }, { label: "score (val. loss)" }],
        series: [
          { label: "finished" },
          { label: "best so far", stroke: COLORS.best, width: 2, paths: uPlot.paths.stepped!({ align: 1 }), points: { show: false } },
          // The trials' own scores: points only, no line between them.
          dots("trial score", COLORS.score),
        ],
      }),
      [b.order, b.best, b.scores],
      b.points,
    );
    const last = b.best.length ? b.best[b.best.length - 1] : null;
    best.summary.textContent = b.order.length
      ? `${b.order.length} trial(s) finished; best score so far ${formatNumber(last)}` +
        ` (trial ${b.trials[b.scores.indexOf(last)] ?? "—"}, lower is better).`
      : "No trial has finished yet.";
    hp.update(model, bestTrial(model, jobBest));
    renderProgress(model, job);
  }

  return {
    el,
    update(model, job) {
      latest = { model, job };
      if (pending) return;
      pending = requestAnimationFrame(() => {
        pending = 0;
        if (latest && !signal.aborted) render(latest.model, latest.job);
      });
    },
  };
}
