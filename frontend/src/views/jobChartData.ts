// What the job page's charts show, built from the job's trials (REST) and its live events.
// No DOM and no chart library here, so every rule below is unit-tested in plain Node.
import type { Job, JobEvent, Metrics, Trial } from "../types";

export interface TrialRecord {
  number: number;
  status: string;
  /** The tuner's objective (validation loss): lower is better. */
  score: number | null;
  /** Metrics per epoch number; keyed by epoch so a replayed event overwrites, never duplicates. */
  epochs: Map<number, Metrics>;
  startedAt: number | null;
  finishedAt: number | null;
  /** The values the tuner picked; known once the trial is reported (a finished trial's). */
  hyperparameters: Metrics | null;
}

const FINISHED = new Set(["COMPLETED", "FAILED"]);

function time(iso: string | null | undefined): number | null {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : null;
}

function finite(v: unknown): number | null {
  if (v === null || v === undefined || v === "" || typeof v === "boolean") return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/** Every trial's epochs and timing, kept up to date from events; the charts derive from it. */
export class JobChartModel {
  readonly trials = new Map<number, TrialRecord>();
  /** Finished trials' numbers in the order they finished (parallel trials finish out of order). */
  readonly finished: number[] = [];

  static fromTrials(trials: readonly Trial[]): JobChartModel {
    const model = new JobChartModel();
    for (const t of trials) {
      const rec = model.trial(t.number);
      rec.status = t.status;
      rec.score = finite(t.score);
      rec.startedAt = time(t.started_at);
      rec.finishedAt = time(t.finished_at);
      rec.hyperparameters = t.hyperparameters ?? null;
      for (const { epoch, ...metrics } of t.epochs ?? []) rec.epochs.set(epoch, metrics);
    }
    const done = [...model.trials.values()].filter((t) => FINISHED.has(t.status));
    done.sort((a, b) => (a.finishedAt ?? Infinity) - (b.finishedAt ?? Infinity) || a.number - b.number);
    model.finished.push(...done.map((t) => t.number));
    return model;
  }

  trial(n: number): TrialRecord {
    let t = this.trials.get(n);
    if (!t) {
      t = { number: n, status: "RUNNING", score: null, epochs: new Map(), startedAt: null, finishedAt: null, hyperparameters: null };
      this.trials.set(n, t);
    }
    return t;
  }

  /** Applies one event (the caller drops repeated `seq`s); answers whether a chart changed. */
  apply(ev: JobEvent): boolean {
    const at = time(ev.created_at);
    switch (ev.kind) {
      case "trial_started": {
        const t = this.trial(ev.payload.trial);
        if (ev.payload.rerun) {
          // An earlier attempt's worker died: the trial runs again from its first epoch.
          Object.assign(t, { status: "RUNNING", score: null, startedAt: at, finishedAt: null });
          t.epochs.clear();
          const i = this.finished.indexOf(t.number);
          if (i >= 0) this.finished.splice(i, 1);
        } else {
          t.startedAt ??= at;
        }
        return true;
      }
      case "epoch_end": {
        const t = this.trial(ev.payload.trial);
        t.startedAt ??= at;
        t.epochs.set(ev.payload.epoch, ev.payload.metrics);
        return true;
      }
      case "trial_finished": {
        const t = this.trial(ev.payload.trial);
        t.status = ev.payload.status;
        t.score = finite(ev.payload.score);
        t.finishedAt ??= at;
        if (ev.payload.hyperparameters) t.hyperparameters = ev.payload.hyperparameters;
        if (!this.finished.includes(t.number)) this.finished.push(t.number);
        return true;
      }
      default:
        return false;
    }
  }
}

/** The metric the learning curves plot: validation loss, else the first val_ metric, else loss. */
export function curveMetric(model: JobChartModel): string | null {
  const keys: string[] = [];
  for (const t of [...model.trials.values()].sort((a, b) => a.number - b.number)) {
    for (const epoch of t.epochs.values()) {
      for (const k of Object.keys(epoch)) if (!keys.includes(k)) keys.push(k);
    }
  }
  if (keys.includes("val_loss")) return "val_loss";
  return keys.find((k) => k.startsWith("val_")) ?? (keys.includes("loss") ? "loss" : null);
}

/** The finished trial with the lowest score (ties: the earlier trial); the job's own pick wins. */
export function bestTrial(model: JobChartModel, jobBest: number | null = null): number | null {
  if (jobBest !== null && model.trials.has(jobBest)) return jobBest;
  let best: TrialRecord | null = null;
  for (const t of model.trials.values()) {
    if (t.status !== "COMPLETED" || t.score === null) continue;
    if (!best || t.score < best.score! || (t.score === best.score && t.number < best.number)) best = t;
  }
  return best ? best.number : null;
}

/** The trial to follow beside the best: the newest running one, else the newest one. */
export function currentTrial(model: JobChartModel): number | null {
  const numbers = [...model.trials.keys()].sort((a, b) => b - a);
  return numbers.find((n) => model.trials.get(n)!.status === "RUNNING") ?? numbers[0] ?? null;
}

export interface CurveSeries {
  trial: number;
  role: "current" | "best";
  label: string;
  values: (number | null)[];
}

export interface LearningCurves {
  metric: string | null;
  /** Epoch numbers, ascending: the union of the plotted trials' epochs. */
  epochs: number[];
  series: CurveSeries[];
  /** How many values are drawn, over all series. */
  points: number;
}

/** The chosen metric per epoch for the current trial and the best trial so far. */
export function learningCurves(model: JobChartModel, jobBest: number | null = null): LearningCurves {
  const metric = curveMetric(model);
  const best = bestTrial(model, jobBest);
  const current = currentTrial(model);
  const picked: Array<[number, CurveSeries["role"]]> = [];
  if (current !== null && current !== best) picked.push([current, "current"]);
  if (best !== null) picked.push([best, "best"]);
  if (metric === null) return { metric, epochs: [], series: [], points: 0 };

  const epochSet = new Set<number>();
  for (const [n] of picked) for (const e of model.trials.get(n)!.epochs.keys()) epochSet.add(e);
  const epochs = [...epochSet].sort((a, b) => a - b);
  let points = 0;
  const series = picked.map(([n, role]): CurveSeries => {
    const t = model.trials.get(n)!;
    const values = epochs.map((e) => finite(t.epochs.get(e)?.[metric]));
    points += values.filter((v) => v !== null).length;
    const what = role === "best" ? "best" : t.status === "RUNNING" ? "running" : "latest";
    return { trial: n, role, label: `trial ${n} (${what})`, values };
  });
  return { metric, epochs, series, points };
}

export interface BestSoFar {
  /** 1, 2, …: the order in which trials finished. */
  order: number[];
  trials: number[];
  /** Each finished trial's score; null for a trial that failed without one. */
  scores: (number | null)[];
  /** The lowest score up to and including each finished trial. */
  best: (number | null)[];
  /** One per finished trial that has a score. */
  points: number;
}

export function bestSoFar(model: JobChartModel): BestSoFar {
  const scores = model.finished.map((n) => model.trials.get(n)?.score ?? null);
  let low: number | null = null;
  const best = scores.map((s) => (low = s !== null && (low === null || s < low) ? s : low));
  return {
    order: scores.map((_, i) => i + 1),
    trials: [...model.finished],
    scores,
    best,
    points: scores.filter((s) => s !== null).length,
  };
}

export interface Progress {
  done: number;
  /** max_trials; null when only the time budget bounds the search. */
  total: number | null;
  /** 0…1 of the trial budget; null when there is no trial cap. */
  fraction: number | null;
  meanSeconds: number | null;
  /** Seconds until the last trial should finish; null while there is nothing to estimate from. */
  etaSeconds: number | null;
}

/**
 * How far the search is. The estimate spreads the remaining trials' mean duration over the
 * trials running at once, minus what the running ones have already spent, and never runs past
 * the job's time budget (the search stops there whatever is left).
 */
export function progress(model: JobChartModel, job: Pick<Job, "max_trials" | "max_seconds" | "started_at">, now: number): Progress {
  const done = model.finished.length;
  const total = job.max_trials ?? null;
  const durations = model.finished
    .map((n) => model.trials.get(n)!)
    .filter((t) => t.status === "COMPLETED" && t.startedAt !== null && t.finishedAt !== null)
    .map((t) => (t.finishedAt! - t.startedAt!) / 1000)
    .filter((d) => d >= 0);
  const meanSeconds = durations.length ? durations.reduce((a, b) => a + b, 0) / durations.length : null;

  let eta: number | null = null;
  if (meanSeconds !== null && total !== null) {
    const running = [...model.trials.values()].filter((t) => t.status === "RUNNING");
    const spent = running.reduce(
      (sum, t) => sum + (t.startedAt === null ? 0 : Math.min(meanSeconds, Math.max(0, (now - t.startedAt) / 1000))),
      0,
    );
    const remaining = Math.max(0, total - done);
    eta = Math.max(0, (remaining * meanSeconds - spent) / Math.max(1, running.length));
  }
  const started = time(job.started_at);
  if (job.max_seconds && started !== null) {
    const left = Math.max(0, (started + job.max_seconds * 1000 - now) / 1000);
    eta = eta === null ? left : Math.min(eta, left);
  }
  return {
    done,
    total,
    fraction: total ? Math.min(1, done / total) : null,
    meanSeconds,
    etaSeconds: eta,
  };
}

/** "45 s", "3 min 20 s", "1 h 5 min": an estimate needs no more precision than that. */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ""}`;
  const m = Math.round(s / 60);
  return `${Math.floor(m / 60)} h${m % 60 ? ` ${m % 60} min` : ""}`;
}
