// The job page's hyperparameter chart: each scored trial's value of one hyperparameter (picked in
// a selector) against its score, redrawn as trials finish.
import { useMemo, useState, type ReactNode } from "react";
import type uPlot from "uplot";
import { formatNumber } from "../dom";
import { Choice } from "../ui/Choice";
import { dots, draw, roomyRange } from "./chart";
import { hyperparameterNames, hyperparameterScatter, type HyperparameterScatter } from "./hyperparameterData";
import type { JobChartModel } from "./jobChartData";
import { UplotFigure } from "./jobviewChart";

const COLORS = { trial: "#2f5bea", best: "#157f3c" };
const NONE = "No trial has finished with a score yet.";

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
  if (s.points === 0) return NONE;
  const i = s.best.findIndex((v) => v !== null);
  const shown = (k: number) => (s.kind === "category" ? s.categories[s.xs[k]!] : formatNumber(s.xs[k]));
  const best = i >= 0 ? `; best trial ${s.trials[i]}: ${s.name} = ${shown(i)}, score ${formatNumber(s.scores[i])}` : "";
  return `${s.points} trial(s) with ${s.name}${best} (lower is better).`;
}

/** `version` changes whenever the (mutable) model does. */
export function HyperparameterChart({
  model,
  best,
  version,
}: {
  model: JobChartModel;
  best: number | null;
  version: number;
}): ReactNode {
  const [picked, setPicked] = useState<string | null>(null);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const names = useMemo(() => hyperparameterNames(model), [model, version]);
  // The reader's pick stays while trials arrive; the first varying one otherwise.
  const name = picked !== null && names.includes(picked) ? picked : (names[0] ?? null);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const s = useMemo(() => (name === null ? null : hyperparameterScatter(model, name, best)), [model, name, best, version]);

  const picker = (
    <Choice
      className="chart-picker"
      id="hp-select"
      label="Hyperparameter to plot"
      value={name}
      options={names.map((n): [string, string] => [n, n])}
      onChange={setPicked}
      isDisabled={names.length === 0}
      placeholder="none yet"
    />
  );

  return (
    <UplotFigure
      id="hp-chart"
      caption="Hyperparameters against the score"
      summary={s ? summary(s) : NONE}
      picker={picker}
      deps={[s]}
      render={(chart) => {
        if (!s) return;
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
      }}
    />
  );
}
