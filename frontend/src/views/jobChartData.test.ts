import { describe, expect, it } from "vitest";
import type { JobEvent, Trial } from "../types";
import {
  JobChartModel,
  bestSoFar,
  bestTrial,
  curveMetric,
  currentTrial,
  formatDuration,
  learningCurves,
  progress,
} from "./jobChartData";

const T0 = Date.parse("2025-01-01T00:00:00Z");
const at = (s: number) => new Date(T0 + s * 1000).toISOString();
let seq = 0;

function started(trial: number, s: number, rerun = false): JobEvent {
  return { seq: ++seq, kind: "trial_started", payload: { trial, ...(rerun ? { rerun } : {}) }, created_at: at(s) };
}
function epoch(trial: number, n: number, metrics: Record<string, unknown>, s = 0): JobEvent {
  return { seq: ++seq, kind: "epoch_end", payload: { trial, epoch: n, metrics }, created_at: at(s) };
}
function finished(trial: number, score: number | null, s: number, status: "COMPLETED" | "FAILED" = "COMPLETED"): JobEvent {
  return { seq: ++seq, kind: "trial_finished", payload: { trial, status, score, hyperparameters: null }, created_at: at(s) };
}
function apiTrial(number: number, over: Partial<Trial>): Trial {
  return {
    id: number * 10,
    number,
    status: "COMPLETED",
    hyperparameters: null,
    score: null,
    epochs: [],
    error: "",
    runner: "",
    started_at: "2026-01-01T00:00:00Z",
    finished_at: null,
    ...over,
  };
}
function run(...events: JobEvent[]): JobChartModel {
  const m = new JobChartModel();
  for (const ev of events) m.apply(ev);
  return m;
}

describe("curveMetric", () => {
  it("prefers val_loss", () => {
    expect(curveMetric(run(epoch(0, 1, { loss: 1, val_accuracy: 0.5, val_loss: 2 })))).toBe("val_loss");
  });
  it("falls back to the first val_ metric, then loss, then nothing", () => {
    expect(curveMetric(run(epoch(0, 1, { loss: 1, val_mae: 3, val_mse: 9 })))).toBe("val_mae");
    expect(curveMetric(run(epoch(0, 1, { accuracy: 0.9, loss: 1 })))).toBe("loss");
    expect(curveMetric(run(epoch(0, 1, { accuracy: 0.9 })))).toBeNull();
    expect(curveMetric(new JobChartModel())).toBeNull();
  });
});

describe("learningCurves", () => {
  it("follows the running trial and the best finished one, aligned by epoch", () => {
    const m = run(
      started(0, 0),
      epoch(0, 1, { val_loss: 0.9 }),
      epoch(0, 2, { val_loss: 0.5 }),
      epoch(0, 3, { val_loss: 0.4 }),
      finished(0, 0.4, 3),
      started(1, 3),
      started(2, 4),
      epoch(1, 1, { val_loss: 0.8 }),
      finished(1, 0.8, 5),
      epoch(2, 1, { val_loss: 0.7 }),
    );
    const c = learningCurves(m);
    expect(c.metric).toBe("val_loss");
    expect(c.epochs).toEqual([1, 2, 3]);
    expect(c.series).toEqual([
      { trial: 2, role: "current", label: "trial 2 (running)", values: [0.7, null, null] },
      { trial: 0, role: "best", label: "trial 0 (best)", values: [0.9, 0.5, 0.4] },
    ]);
    expect(c.points).toBe(4);
  });

  it("gains a point with each epoch_end, and a replayed epoch adds none", () => {
    const m = run(started(0, 0));
    const counts = [learningCurves(m).points];
    for (let e = 1; e <= 3; e++) {
      m.apply(epoch(0, e, { val_loss: 1 / e }));
      counts.push(learningCurves(m).points);
    }
    m.apply(epoch(0, 3, { val_loss: 1 / 3 }));
    counts.push(learningCurves(m).points);
    expect(counts).toEqual([0, 1, 2, 3, 3]);
  });

  it("shows the latest trial once none runs, and only the best when that is the latest", () => {
    const m = run(epoch(0, 1, { val_loss: 0.3 }), finished(0, 0.3, 1), epoch(1, 1, { val_loss: 0.6 }), finished(1, 0.6, 2));
    expect(learningCurves(m).series.map((s) => s.label)).toEqual(["trial 1 (latest)", "trial 0 (best)"]);
    m.apply(finished(1, 0.1, 2)); // a replay with a better score: trial 1 is both
    expect(learningCurves(m).series.map((s) => s.label)).toEqual(["trial 1 (best)"]);
  });

  it("ignores values that are not finite numbers", () => {
    const m = run(epoch(0, 1, { val_loss: "nan" }), epoch(0, 2, { val_loss: null }), epoch(0, 3, { val_loss: 0.5 }));
    const c = learningCurves(m);
    expect(c.series[0]!.values).toEqual([null, null, 0.5]);
    expect(c.points).toBe(1);
  });

  it("lets the job's recorded best trial win over its own pick", () => {
    const m = run(finished(0, 0.2, 1), finished(1, 0.2, 2));
    expect(bestTrial(m)).toBe(0);
    expect(bestTrial(m, 1)).toBe(1);
    expect(bestTrial(m, 7)).toBe(0); // not a trial we know
  });

  it("starts a rerun trial's curve again from its first epoch", () => {
    const m = run(started(0, 0), epoch(0, 1, { val_loss: 1 }), epoch(0, 2, { val_loss: 0.9 }), started(0, 5, true));
    expect(learningCurves(m).points).toBe(0);
    expect(currentTrial(m)).toBe(0);
  });
});

describe("bestSoFar", () => {
  it("is a running minimum over trials in the order they finished", () => {
    const m = run(finished(2, 0.5, 1), finished(0, 0.7, 2), finished(1, null, 3, "FAILED"), finished(3, 0.2, 4));
    expect(bestSoFar(m)).toEqual({
      order: [1, 2, 3, 4],
      trials: [2, 0, 1, 3],
      scores: [0.5, 0.7, null, 0.2],
      best: [0.5, 0.5, 0.5, 0.2],
      points: 3,
    });
  });

  it("counts a replayed trial_finished once", () => {
    const m = run(finished(0, 0.5, 1), finished(0, 0.5, 1));
    expect(bestSoFar(m).points).toBe(1);
  });

  it("orders trials from the REST answer by when they finished", () => {
    const m = JobChartModel.fromTrials([
      apiTrial(0, { score: 0.4, started_at: at(0), finished_at: at(30) }),
      apiTrial(1, { score: 0.3, started_at: at(0), finished_at: at(20) }),
      apiTrial(2, { status: "RUNNING", epochs: [{ epoch: 1, val_loss: 0.9 }, { epoch: 2, val_loss: 0.8 }] }),
    ]);
    expect(bestSoFar(m).trials).toEqual([1, 0]);
    expect(bestSoFar(m).best).toEqual([0.3, 0.3]);
    const c = learningCurves(m);
    expect(c.series.map((s) => [s.trial, s.role])).toEqual([[2, "current"], [1, "best"]]);
    expect(c.series[0]!.values).toEqual([0.9, 0.8]);
    // then live epochs continue the same trial without repeating the REST ones
    m.apply(epoch(2, 2, { val_loss: 0.8 }));
    m.apply(epoch(2, 3, { val_loss: 0.75 }));
    expect(learningCurves(m).series[0]!.values).toEqual([0.9, 0.8, 0.75]);
  });
});

describe("progress", () => {
  const job = { max_trials: 4, max_seconds: null, started_at: at(0) };

  it("has no estimate before a trial finishes", () => {
    const p = progress(run(started(0, 0)), job, T0 + 5000);
    expect(p).toEqual({ done: 0, total: 4, fraction: 0, meanSeconds: null, etaSeconds: null });
  });

  it("estimates from the mean trial duration, less the running trial's time so far", () => {
    // trials of 10 s and 20 s: mean 15 s; 2 left, the running one 5 s in: 30 - 5 = 25 s
    const m = run(started(0, 0), finished(0, 0.5, 10), started(1, 10), finished(1, 0.4, 30), started(2, 30));
    const p = progress(m, job, T0 + 35_000);
    expect(p.done).toBe(2);
    expect(p.fraction).toBe(0.5);
    expect(p.meanSeconds).toBe(15);
    expect(p.etaSeconds).toBe(25);
  });

  it("spreads the remaining work over trials running at once", () => {
    const m = run(started(0, 0), finished(0, 0.5, 10), started(1, 10), started(2, 10));
    // 3 left × 10 s, both running ones 4 s in: (30 - 8) / 2
    expect(progress(m, job, T0 + 14_000).etaSeconds).toBe(11);
  });

  it("never runs past the time budget, and works without a trial cap", () => {
    const m = run(started(0, 0), finished(0, 0.5, 100));
    expect(progress(m, { ...job, max_seconds: 120 }, T0 + 100_000).etaSeconds).toBe(20);
    const open = progress(m, { max_trials: null, max_seconds: 120, started_at: at(0) }, T0 + 100_000);
    expect(open).toMatchObject({ done: 1, total: null, fraction: null, etaSeconds: 20 });
    expect(progress(m, { max_trials: null, max_seconds: null, started_at: at(0) }, T0).etaSeconds).toBeNull();
  });

  it("is complete and has nothing left once every trial finished", () => {
    const m = run(started(0, 0), finished(0, 0.5, 10), started(1, 10), finished(1, 0.5, 20));
    expect(progress(m, { ...job, max_trials: 2 }, T0 + 20_000)).toMatchObject({ fraction: 1, etaSeconds: 0 });
  });
});

describe("formatDuration", () => {
  it("rounds to what an estimate needs", () => {
    expect(formatDuration(4.4)).toBe("4 s");
    expect(formatDuration(60)).toBe("1 min");
    expect(formatDuration(200)).toBe("3 min 20 s");
    expect(formatDuration(3900)).toBe("1 h 5 min");
  });
});
