import { describe, expect, it } from "vitest";
import type { TrialState } from "./jobLive";
import { nextSort, pageOf, sortTrials } from "./trialTableData";

const trial = (number: number, score: number | null, status = "COMPLETED", epoch: number | null = 3): TrialState => ({
  number,
  status,
  score,
  epoch,
  hyperparameters: null,
  metrics: null,
});

describe("trial table", () => {
  const trials = [trial(1, 0.5), trial(2, null, "RUNNING", 1), trial(3, 0.2), trial(4, 0.5)];

  it("orders by score with the unscored last both ways, ties by number", () => {
    expect(sortTrials(trials, { key: "score", descending: false }).map((t) => t.number)).toEqual([3, 1, 4, 2]);
    expect(sortTrials(trials, { key: "score", descending: true }).map((t) => t.number)).toEqual([1, 4, 3, 2]);
    expect(sortTrials(trials, { key: "status", descending: false }).map((t) => t.number)).toEqual([1, 3, 4, 2]);
    expect(sortTrials(trials, { key: "number", descending: true }).map((t) => t.number)).toEqual([4, 3, 2, 1]);
  });

  it("cuts thousands of trials into pages and clamps a page past the end", () => {
    const many = Array.from({ length: 2345 }, (_, i) => trial(i + 1, i));
    const first = pageOf(many, 0);
    expect([first.rows.length, first.first, first.last, first.pages, first.total]).toEqual([50, 1, 50, 47, 2345]);
    const last = pageOf(many, 99);
    expect([last.page, last.rows.length, last.first, last.last]).toEqual([46, 45, 2301, 2345]);
    expect(pageOf([], 3)).toMatchObject({ page: 0, pages: 1, first: 0, last: 0, rows: [] });
  });

  it("flips the direction on the same column and starts ascending on another", () => {
    expect(nextSort({ key: "number", descending: false }, "number")).toEqual({ key: "number", descending: true });
    expect(nextSort({ key: "number", descending: true }, "score")).toEqual({ key: "score", descending: false });
  });
});
