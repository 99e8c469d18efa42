import { describe, expect, it } from "vitest";
import type { JobEvent } from "../types";
import { hyperparameterNames, hyperparameterScatter } from "./hyperparameterData";
import { JobChartModel } from "./jobChartData";
import { apiTrial, trials } from "./trialFixtures";

describe("hyperparameterNames", () => {
  it("lists the scored trials' hyperparameters, those that vary first", () => {
    const model = JobChartModel.fromTrials(trials);
    expect(hyperparameterNames(model)).toEqual(["units", "learning_rate", "activation", "layers", "dropout"]);
  });

  it("is empty before any trial has a score", () => {
    expect(hyperparameterNames(JobChartModel.fromTrials([apiTrial(1, null, null, "RUNNING")]))).toEqual([]);
  });
});

describe("hyperparameterScatter", () => {
  const model = JobChartModel.fromTrials(trials);

  it("puts each scored trial at (value, score), sorted by value, with the best marked", () => {
    const s = hyperparameterScatter(model, "units", 2);
    expect(s).toMatchObject({ kind: "number", log: false, xs: [32, 64, 128], trials: [2, 1, 3], scores: [0.3, 0.5, 0.4], points: 3 });
    expect(s.best).toEqual([0.3, null, null]);
  });

  it("reads a range of two decades or more on a log axis", () => {
    expect(hyperparameterScatter(model, "learning_rate", null)).toMatchObject({ log: true, xs: [0.0001, 0.001, 0.01] });
  });

  it("places text values as categories in a stable order", () => {
    const s = hyperparameterScatter(model, "activation", null);
    expect(s).toMatchObject({ kind: "category", categories: ["relu", "tanh"], xs: [0, 0, 1], trials: [1, 3, 2] });
  });

  it("skips trials that never set a conditional hyperparameter", () => {
    expect(hyperparameterScatter(model, "dropout", null)).toMatchObject({ xs: [0.2], trials: [3], points: 1 });
  });

  it("gains a point as a trial finishes live", () => {
    const live = JobChartModel.fromTrials(trials);
    const ev: JobEvent = {
      seq: 1,
      kind: "trial_finished",
      payload: { trial: 5, status: "COMPLETED", score: 0.2, hyperparameters: { units: 256, learning_rate: 0.001, activation: "relu", layers: 2 } },
      created_at: "2025-01-01T00:00:00Z",
    };
    live.apply(ev);
    const s = hyperparameterScatter(live, "units", 5);
    expect(s.xs).toEqual([32, 64, 128, 256]);
    expect(s.best).toEqual([null, null, null, 0.2]);
  });
});
