import { describe, expect, it } from "vitest";
import { JobChartModel } from "./jobChartData";
import { apiTrial, trials } from "./trialFixtures";
import { parallelCoordinates, SCORE_AXIS } from "./parallelData";

describe("parallelCoordinates", () => {
  const p = parallelCoordinates(JobChartModel.fromTrials(trials), 2);

  it("has an axis per varying hyperparameter, then the score, and leaves the constant ones out", () => {
    expect(p.axes.map((a) => a.name)).toEqual(["units", "learning_rate", "activation", SCORE_AXIS]);
    expect(p.constant).toEqual(["layers", "dropout"]);
  });

  it("draws one line per scored trial, the best one last", () => {
    expect(p.lines.map((l) => [l.trial, l.score, l.best])).toEqual([[1, 0.5, false], [3, 0.4, false], [2, 0.3, true]]);
    for (const line of p.lines) expect(line.at).toHaveLength(p.axes.length);
  });

  it("places numbers along their range, two decades or more on a log scale", () => {
    const at = (trial: number, axis: number) => p.lines.find((l) => l.trial === trial)!.at[axis];
    // units 32…128 is linear: 64 is a third of the way up
    expect(p.axes[0]).toMatchObject({ kind: "number", log: false });
    expect([at(2, 0), at(1, 0), at(3, 0)]).toEqual([0, 1 / 3, 1]);
    expect(p.axes[0]!.ticks.map((t) => t.label)).toEqual(["32", "80", "128"]);
    // learning rates 0.0001…0.01 are log: 0.001 is half way, and the middle tick reads 0.001
    expect(p.axes[1]).toMatchObject({ kind: "number", log: true });
    expect([at(2, 1), at(3, 1), at(1, 1)]).toEqual([0, 0.5, 1]);
    expect(p.axes[1]!.ticks.map((t) => [t.at, t.label])).toEqual([[0, "0.0001"], [0.5, "0.001"], [1, "0.01"]]);
    // the score: 0.3 at the bottom, 0.5 at the top
    expect([at(2, 3), at(3, 3), at(1, 3)].map((v) => Number(v!.toFixed(6)))).toEqual([0, 0.5, 1]);
  });

  it("puts categories on evenly spaced levels, named in order", () => {
    expect(p.axes[2]).toMatchObject({ kind: "category", log: false, ticks: [{ at: 0, label: "relu" }, { at: 1, label: "tanh" }] });
    expect(p.lines.map((l) => l.at[2])).toEqual([0, 0, 1]);
  });

  it("leaves a gap where a trial has no such hyperparameter", () => {
    const q = parallelCoordinates(JobChartModel.fromTrials([
      apiTrial(1, 0.5, { units: 64, dropout: 0.1 }),
      apiTrial(2, 0.4, { units: 32 }),
      apiTrial(3, 0.3, { units: 16, dropout: 0.3 }),
    ]), null);
    expect(q.axes.map((a) => a.name)).toEqual(["units", "dropout", SCORE_AXIS]);
    expect(q.lines.map((l) => l.at[1])).toEqual([0, null, 1]);
    expect(q.lines.some((l) => l.best)).toBe(false);
  });

  it("shows a first trial's values although none varies yet, each in the middle of its axis", () => {
    const q = parallelCoordinates(JobChartModel.fromTrials([apiTrial(1, 0.5, { units: 64, activation: "relu" })]), 1);
    expect(q.axes.map((a) => a.name)).toEqual(["units", "activation", SCORE_AXIS]);
    expect(q.lines).toEqual([{ trial: 1, score: 0.5, best: true, at: [0.5, 0.5, 0.5] }]);
    expect(q.axes[0]!.ticks).toEqual([{ at: 0.5, label: "64" }]);
    expect(q.constant).toEqual([]);
  });

  it("has no lines before a trial is scored", () => {
    const q = parallelCoordinates(JobChartModel.fromTrials([apiTrial(1, null, null, "RUNNING")]), null);
    expect(q.lines).toEqual([]);
    expect(q.axes.map((a) => a.name)).toEqual([SCORE_AXIS]);
  });
});
