import { describe, expect, it } from "vitest";
import type { Dataset } from "../types";
import {
  describeEstimate,
  estimate,
  estimateFor,
  firstStepWithError,
  formatDuration,
  initialState,
  patience,
  requestBody,
  roughly,
  suggestTarget,
  suggestTaskType,
  validateStep,
} from "./wizardRules";

function dataset(extra: Partial<Dataset> = {}): Dataset {
  return {
    id: 7,
    name: "cancer",
    kind: "tabular",
    version: 1,
    parent: null,
    children: [],
    changes: null,
    original_filename: "cancer.csv",
    format: "csv",
    encoding: "utf-8",
    delimiter: ",",
    has_header: true,
    error: "",
    column_types: {},
    text_column: "",
    timestamp_column: "",
    profiled_at: "2026-12-03T00:00:01Z",
    status: "READY",
    size_bytes: 1000,
    sha256: "0",
    n_rows: 569,
    n_columns: 4,
    columns: [
      { name: "id", type: "identifier" },
      { name: "radius", type: "numeric" },
      { name: "grade", type: "integer" },
      { name: "diagnosis", type: "categorical" },
      { name: "notes", type: "text" },
    ],
    profile: {
      suggested_target: "diagnosis",
      suggested_task_type: "binary",
      columns: [
        { name: "id", type: "identifier", distinct: 569 },
        { name: "radius", type: "numeric", distinct: 400 },
        { name: "grade", type: "integer", distinct: 4 },
        { name: "diagnosis", type: "categorical", distinct: 2 },
        { name: "notes", type: "text", distinct: 500 },
      ],
    },
    created_at: "2026-12-03T00:00:00Z",
    ...extra,
  };
}

describe("suggestTarget", () => {
  it("takes the profile's suggestion", () => {
    expect(suggestTarget(dataset())).toBe("diagnosis");
  });
  it("else the last column that can be a target, never an identifier or free text", () => {
    expect(suggestTarget(dataset({ profile: {} }))).toBe("diagnosis");
    expect(suggestTarget(dataset({ profile: { suggested_target: "gone" }, columns: [{ name: "id", type: "identifier" }, { name: "y", type: "numeric" }, { name: "t", type: "text" }] }))).toBe("y");
  });
  it("names the implied target of an image archive", () => {
    expect(suggestTarget(dataset({ kind: "image", columns: [], profile: { images: { task: "regression" } } }))).toBe("value");
    expect(suggestTarget(dataset({ kind: "image", columns: [], profile: {} }))).toBe("label");
  });
});

describe("suggestTaskType", () => {
  const ds = dataset();
  it("keeps the profile's task for its own target", () => {
    expect(suggestTaskType(ds, "diagnosis")).toBe("binary");
  });
  it("reads another target's column profile by the server's rules", () => {
    expect(suggestTaskType(ds, "radius")).toBe("regression");
    expect(suggestTaskType(ds, "grade")).toBe("multiclass");
    const many = dataset({ profile: { columns: [{ name: "grade", type: "integer", distinct: 50 }] } });
    expect(suggestTaskType(many, "grade")).toBe("regression");
    const two = dataset({ profile: { columns: [{ name: "grade", type: "integer", distinct: 2 }] } });
    expect(suggestTaskType(two, "grade")).toBe("binary");
  });
  it("says nothing where it cannot tell, leaving it to the server", () => {
    expect(suggestTaskType(ds, "notes")).toBe("");
    expect(suggestTaskType(ds, "nope")).toBe("");
  });
  it("forecasts a time series and classifies or regresses images", () => {
    expect(suggestTaskType(dataset({ kind: "timeseries" }), "radius")).toBe("forecasting");
    expect(suggestTaskType(dataset({ kind: "image" }), "label")).toBe("multiclass");
    expect(suggestTaskType(dataset({ kind: "image" }), "value")).toBe("regression");
  });
});

describe("requestBody", () => {
  it("sends what was chosen and leaves the rest to the server's defaults", () => {
    const state = { ...initialState("7"), target: "diagnosis", taskType: "binary" as const, horizon: "5", labelDelimiter: ";" as const };
    expect(requestBody(state, dataset())).toEqual({ dataset: 7, target: "diagnosis", task_type: "binary", budget: "standard", queue: "cpu" });
  });
  it("sends seconds instead of the preset, and the caps, seed and advanced options as numbers", () => {
    const state = {
      ...initialState("7"),
      target: "y",
      taskType: "forecasting" as const,
      horizon: "3",
      lookback: " 24 ",
      maxSeconds: "90",
      maxTrials: "2",
      maxEpochs: "3",
      seed: "0",
      tuner: "hyperband" as const,
      queue: "gpu" as const,
      priority: "high" as const,
      parallelTrials: "2",
    };
    expect(requestBody(state, dataset())).toEqual({
      dataset: 7,
      target: "y",
      task_type: "forecasting",
      horizon: 3,
      lookback: 24,
      max_seconds: 90,
      max_trials: 2,
      max_epochs: 3,
      seed: 0,
      tuner: "hyperband",
      queue: "gpu",
      priority: "high",
      parallel_trials: 2,
    });
  });
  it("sends the label delimiter only for a multi-label task", () => {
    const state = { ...initialState("7"), target: "tags", taskType: "multilabel" as const, labelDelimiter: "|" as const };
    expect(requestBody(state, dataset()).label_delimiter).toBe("|");
  });
});

describe("steps", () => {
  it("stops each step on what a form can see", () => {
    expect(validateStep("dataset", initialState())).toEqual({ dataset: "Choose a dataset." });
    expect(validateStep("target", { ...initialState("7") })).toHaveProperty("target");
    const forecast = { ...initialState("7"), target: "y", taskType: "forecasting" as const, horizon: "0", lookback: "1.5" };
    expect(Object.keys(validateStep("target", forecast)).sort()).toEqual(["horizon", "lookback"]);
    expect(validateStep("target", { ...forecast, taskType: "regression" })).toEqual({});
    const budget = { ...initialState("7"), maxSeconds: "5", maxTrials: "201", maxEpochs: "x", parallelTrials: "9", seed: "-1" };
    expect(Object.keys(validateStep("budget", budget)).sort()).toEqual(["max_epochs", "max_seconds", "max_trials", "parallel_trials", "seed"]);
    expect(validateStep("budget", initialState("7"))).toEqual({});
    expect(validateStep("review", initialState())).toEqual({});
  });
  it("sends a server's field errors to the first step that holds one", () => {
    expect(firstStepWithError(["parallel_trials"])).toBe("budget");
    expect(firstStepWithError(["budget", "target"])).toBe("target");
    expect(firstStepWithError(["dataset", "seed"])).toBe("dataset");
    expect(firstStepWithError(["non_field_errors"])).toBe("review");
    expect(firstStepWithError([])).toBe("review");
  });
});

describe("estimate", () => {
  it("follows the stated rule: 5,000 training rows a second, 75% of the time to the search", () => {
    // 10,000 rows: 6,000 train; patience 11 → 22 epochs; 26.4 s a trial; 135 s of 180 → 5 trials.
    const e = estimate({ rows: 10_000, images: false, seconds: 180, maxTrials: null, maxEpochs: null, parallel: 1, trialsCap: 200 });
    expect(patience(6000)).toBe(11);
    expect(e).toEqual({ trials: 5, epochs: 22, trainRows: 6000, seconds: 180, limitedBy: "time", trialCut: false });
  });
  it("ends early when the trial cap is reached first", () => {
    const e = estimate({ rows: 569, images: false, seconds: 180, maxTrials: 2, maxEpochs: 3, parallel: 1, trialsCap: 200 });
    expect(e.trials).toBe(2);
    expect(e.epochs).toBe(3);
    expect(e.limitedBy).toBe("trials");
    expect(e.seconds).toBeLessThan(180);
  });
  it("runs parallel trials side by side and says when one trial does not fit", () => {
    const one = estimate({ rows: 10_000, images: false, seconds: 180, maxTrials: null, maxEpochs: null, parallel: 1, trialsCap: 200 });
    const four = estimate({ rows: 10_000, images: false, seconds: 180, maxTrials: null, maxEpochs: null, parallel: 4, trialsCap: 200 });
    expect(four.trials).toBe(4 * one.trials);
    const huge = estimate({ rows: 5_000_000, images: false, seconds: 60, maxTrials: null, maxEpochs: null, parallel: 1, trialsCap: 200 });
    expect(huge).toMatchObject({ trials: 1, trialCut: true });
    const images = estimate({ rows: 10_000, images: true, seconds: 180, maxTrials: null, maxEpochs: null, parallel: 1, trialsCap: 200 });
    expect(images.trials).toBe(1);
  });
  it("reads in plain words without a false precision", () => {
    expect(roughly(7)).toBe(7);
    expect(roughly(661)).toBe(660);
    expect(formatDuration(20)).toBe("under a minute");
    expect(formatDuration(180)).toBe("3 min");
    expect(formatDuration(7200)).toBe("2 h");
    const e = estimate({ rows: 10_000, images: false, seconds: 180, maxTrials: null, maxEpochs: null, parallel: 1, trialsCap: 200 });
    expect(describeEstimate(e, 10_000, false)).toBe("About 5 trials of up to 22 epochs on 10,000 rows (6,000 to train), in 3 min.");
    const capped = estimate({ rows: 569, images: false, seconds: 180, maxTrials: 2, maxEpochs: 3, parallel: 1, trialsCap: 200 });
    expect(describeEstimate(capped, 569, false)).toBe("About 2 trials of up to 3 epochs on 569 rows (341 to train), finishing in under a minute.");
  });
  it("takes the rows from the dataset and the seconds from the preset or the exact budget", () => {
    const ds = dataset({ n_rows: 10_000 });
    expect(estimateFor(ds, { ...initialState("7"), budget: "quick" }).seconds).toBe(60);
    expect(estimateFor(ds, { ...initialState("7"), maxSeconds: "600" })).toMatchObject({ seconds: 600, rows: 10_000, images: false });
  });
});
