// The job page's charts: learning curves, best score so far, hyperparameters against the score
// (one at a time, and all of them in parallel coordinates), and progress against the budget.
import { useEffect, useMemo, useState, type ReactNode } from "react";
import uPlot from "uplot";
import type { Job } from "../types";
import { formatNumber } from "../dom";
import { dots, draw, WHOLE } from "./chart";
import { HyperparameterChart } from "./hyperparameterChart";
import { ParallelChart } from "./parallelChart";
import {
  bestSoFar,
  bestTrial,
  formatDuration,
  learningCurves,
  progress,
  type JobChartModel,
  type LearningCurves,
} from "./jobChartData";
import { UplotFigure } from "./jobviewChart";

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

/** Trials done against the budget, with the time left counting down between events. */
function ProgressRow({ model, job }: { model: JobChartModel; job: Job }): ReactNode {
  const running = job.status === "RUNNING" || job.status === "QUEUED";
  const [, setTick] = useState(0);
  useEffect(() => {
    if (!running) return undefined;
    const ticker = setInterval(() => setTick((t) => t + 1), 1000);
    return () => clearInterval(ticker);
  }, [running]);
  let text = "";
  let fraction: number | null = null;
  if (running) {
    const p = progress(model, job, Date.now());
    fraction = p.fraction;
    const of = p.total === null ? "" : ` of ${p.total}`;
    const eta = p.etaSeconds === null ? "estimating time left…" : `about ${formatDuration(p.etaSeconds)} left`;
    text = `${p.done}${of} trials finished · ${eta}`;
  }
  return (
    <div id="job-progress-row" className="progress-row" hidden={!running}>
      <progress id="job-progress" max={1} value={fraction ?? undefined} aria-label={text || "Progress"} />
      <span id="job-progress-text" className="hint">
        {text}
      </span>
    </div>
  );
}

/** The charts' section. `model` is mutable: `version` changes whenever it does, at most once a
 * frame however fast events arrive (the page batches them). */
export function JobCharts({ model, job, version }: { model: JobChartModel; job: Job; version: number }): ReactNode {
  const jobBest = job.status === "SUCCEEDED" && job.best_trial !== null && job.best_trial !== undefined ? Number(job.best_trial) : null;
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const c = useMemo(() => learningCurves(model, jobBest), [model, jobBest, version]);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const b = useMemo(() => bestSoFar(model), [model, version]);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const bestNumber = useMemo(() => bestTrial(model, jobBest), [model, jobBest, version]);
  const last = b.best.length ? b.best[b.best.length - 1] : null;
  const bestSummary = b.order.length
    ? `${b.order.length} trial(s) finished; best score so far ${formatNumber(last)}` +
      ` (trial ${b.trials[b.scores.indexOf(last ?? null)] ?? "—"}, lower is better).`
    : "No trial has finished yet.";

  return (
    <section className="job-charts" aria-label="Charts">
      <ProgressRow model={model} job={job} />
      <div className="chart-grid">
        <UplotFigure
          id="learning-curve"
          caption="Learning curves: running trial and best trial so far"
          summary={curveSummary(c)}
          deps={[c]}
          render={(chart) =>
            draw(
              chart,
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
            )
          }
        />
        <UplotFigure
          id="best-so-far"
          caption="Best score so far by finished trial"
          summary={bestSummary}
          deps={[b]}
          render={(chart) =>
            draw(
              chart,
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
            )
          }
        />
        <HyperparameterChart model={model} best={bestNumber} version={version} />
        <ParallelChart model={model} best={bestNumber} version={version} />
      </div>
    </section>
  );
}
