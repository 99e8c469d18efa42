// The job page's hyperparameter chart: each scored trial's value of one hyperparameter (picked in
// a selector) against its score, redrawn as trials finish.
import type uPlot from "uplot";
import { formatNumber, h } from "../dom";
import { chartShell, dots, draw, followWidth, roomyRange } from "./chart";
import { hyperparameterNames, hyperparameterScatter, type HyperparameterScatter } from "./hyperparameterData";
import type { JobChartModel } from "./jobChartData";

const COLORS = { trial: "#2f5bea", best: "#157f3c" };

function axisOptions(s: HyperparameterScatter): Pick<uPlot.Options, "scales" | "axes"> {
  if (s.kind === "category") {
    return {
      scales: { x: { time: false, range: [-0.5, Math.max(0.5, s.categories.length - 0.5)] } },
      axes: [
        { label: s.name, incrs: [1], values: (_u, splits) => splits.map((v) => (Number.isInteger(v) ? (s.categories[v] ?? "") : "")) },
        { label: "score (val. loss)" },
      ],
    };
  }
  return {
    scales: { x: { time: false, range: roomyRange(s.log), ...(s.log ? { distr: 3 as const } : {}) } },
    axes: [{ label: s.name }, { label: "score (val. loss)" }],
  };
}

function summary(s: HyperparameterScatter): string {
  if (s.points === 0) return "No trial has finished with a score yet.";
  const i = s.best.findIndex((v) => v !== null);
  const shown = (k: number) => (s.kind === "category" ? s.categories[s.xs[k]!] : formatNumber(s.xs[k]));
  const best = i >= 0 ? `; best trial ${s.trials[i]}: ${s.name} = ${shown(i)}, score ${formatNumber(s.scores[i])}` : "";
  return `${s.points} trial(s) with ${s.name}${best} (lower is better).`;
}

export interface HyperparameterChart {
  figure: HTMLElement;
  update(model: JobChartModel, best: number | null): void;
}

export function hyperparameterChart(signal: AbortSignal): HyperparameterChart {
  const chart = chartShell("hp-chart", "Hyperparameters against the score");
  const select = h("select", { id: "hp-select", "aria-label": "Hyperparameter to plot" });
  chart.figure.insertBefore(h("label", { class: "chart-picker" }, "Hyperparameter ", select), chart.plot);
  followWidth([chart], signal);
  let names: string[] = [];
  let latest: { model: JobChartModel; best: number | null } | null = null;
  select.addEventListener("change", () => latest && render(latest.model, latest.best));

  function render(model: JobChartModel, best: number | null): void {
    const fresh = hyperparameterNames(model);
    if (fresh.join("\n") !== names.join("\n")) {
      const keep = select.value;
      names = fresh;
      select.replaceChildren(...names.map((n) => h("option", { value: n }, n)));
      // The reader's pick stays while trials arrive; the first varying one otherwise.
      if (names.includes(keep)) select.value = keep;
    }
    select.disabled = names.length === 0;
    const name = select.value;
    if (!name) {
      chart.summary.textContent = "No trial has finished with a score yet.";
      return;
    }
    const s = hyperparameterScatter(model, name, best);
    draw(
      chart,
      JSON.stringify([s.name, s.kind, s.categories, s.log]),
      () => ({
        ...axisOptions(s),
        series: [{ label: s.name }, dots("trial", COLORS.trial), dots("best trial", COLORS.best, 11)],
      }),
      [s.xs, s.scores, s.best],
      s.points,
    );
    chart.summary.textContent = summary(s);
  }

  return {
    figure: chart.figure,
    update(model, best) {
      latest = { model, best };
      render(model, best);
    },
  };
}
