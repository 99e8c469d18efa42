// The live job page's state: the job, its trials and epoch log as the REST answer and the
// websocket's events build them. No DOM here; the React page renders what this holds.
import type { Id, Job, JobEvent, JobStatus, Metrics, Trial } from "../types";
import { formatPairs } from "../dom";
import { JobChartModel } from "./jobChartData";

export interface TrialState {
  number: number;
  id?: Id;
  status: string;
  score: number | null;
  hyperparameters: Metrics | null;
  epoch: number | null;
  metrics: Metrics | null;
}

export interface LogLine {
  key: number;
  text: string;
}

export const LOG_LIMIT = 200;

// Replayed events can be older than what the initial GET already showed; never move backwards.
const JOB_RANK: Record<string, number> = { QUEUED: 0, RUNNING: 1, SUCCEEDED: 2, FAILED: 2, CANCELLED: 2 };
const TRIAL_RANK: Record<string, number> = { RUNNING: 0, COMPLETED: 1, FAILED: 1 };
const advances = (rank: Record<string, number>, from: string, to: string) => (rank[to] ?? 0) >= (rank[from] ?? 0);

function trialFromApi(t: Trial): TrialState {
  const last = t.epochs?.length ? t.epochs[t.epochs.length - 1]! : null;
  let metrics: Metrics | null = null;
  if (last) {
    const { epoch: _epoch, ...rest } = last;
    metrics = rest;
  }
  return {
    number: t.number,
    id: t.id,
    status: t.status,
    score: t.score,
    hyperparameters: t.hyperparameters,
    epoch: last ? last.epoch : null,
    metrics,
  };
}

/**
 * Mutable on purpose: events arrive faster than the page redraws, so they are applied here as
 * they come and the page renders the result at most once a frame.
 */
export class JobLive {
  job: Job;
  readonly trials = new Map<number, TrialState>();
  readonly chartModel: JobChartModel;
  log: LogLine[] = [];
  private readonly seen = new Set<number>();
  private nextLine = 0;

  constructor(job: Job) {
    this.job = { ...job };
    for (const t of job.trials ?? []) this.trials.set(t.number, trialFromApi(t));
    this.chartModel = JobChartModel.fromTrials(job.trials ?? []);
  }

  /** The trials by number. */
  rows(): TrialState[] {
    return [...this.trials.values()].sort((a, b) => a.number - b.number);
  }

  private trial(n: number): TrialState {
    let t = this.trials.get(n);
    if (!t) {
      t = { number: n, status: "RUNNING", score: null, hyperparameters: null, epoch: null, metrics: null };
      this.trials.set(n, t);
    }
    return t;
  }

  private setStatus(status: JobStatus): void {
    if (advances(JOB_RANK, this.job.status, status)) this.job.status = status;
  }

  private addLine(text: string): void {
    this.log = [...this.log, { key: this.nextLine++, text }].slice(-LOG_LIMIT);
  }

  /** A fresh GET of the job: its fields, but a status that never moves backwards. */
  merge(fresh: Job): void {
    const status = this.job.status;
    this.job = { ...fresh, status };
    this.setStatus(fresh.status);
    for (const t of fresh.trials ?? []) {
      const cur = this.trials.get(t.number);
      if (cur) cur.id = t.id;
    }
  }

  /** The cancel request's 202: the job as it answered (a queued job is CANCELLED at once). */
  answered(answer: Job): void {
    this.job = { ...answer, status: this.job.status };
    this.setStatus(answer.status);
  }

  /** Applies one event; answers whether the job should be fetched again (the event carries
   * only part of what changed). A repeated `seq` (the server replays on reconnect) is ignored. */
  apply(ev: JobEvent): boolean {
    if (typeof ev.seq === "number") {
      if (this.seen.has(ev.seq)) return false;
      this.seen.add(ev.seq);
    }
    let refresh = false;
    const job = this.job;
    switch (ev.kind) {
      case "job_status":
        this.setStatus(ev.payload.status);
        if (ev.payload.status === "RUNNING") job.started_at ??= ev.created_at;
        if (ev.payload.error) job.error = ev.payload.error;
        // A queued job cancelled at once may get no job_finished; fetch its `stopped` and timestamps.
        if (ev.payload.status === "CANCELLED") refresh = true;
        break;
      case "cancel_requested":
        job.cancel_requested = true;
        if (ev.payload.keep_best) job.keep_best = true;
        break;
      case "trial_started": {
        const t = this.trial(ev.payload.trial);
        // Running when an earlier attempt's worker died: it starts again from its first epoch.
        if (ev.payload.rerun) Object.assign(t, { status: "RUNNING", score: null, epoch: null, metrics: null });
        break;
      }
      case "search_resumed":
        this.addLine(`attempt ${ev.payload.attempt} · resumed after ${ev.payload.trials_done} finished trial(s)`);
        break;
      case "epoch_end": {
        const p = ev.payload;
        const t = this.trial(p.trial);
        if (t.epoch === null || p.epoch >= t.epoch) {
          t.epoch = p.epoch;
          t.metrics = p.metrics;
        }
        this.addLine(`trial ${p.trial} · epoch ${p.epoch} · ${formatPairs(p.metrics)}`);
        break;
      }
      case "trial_finished": {
        const t = this.trial(ev.payload.trial);
        if (advances(TRIAL_RANK, t.status, ev.payload.status)) t.status = ev.payload.status;
        t.score = ev.payload.score;
        if (ev.payload.hyperparameters) t.hyperparameters = ev.payload.hyperparameters;
        break;
      }
      case "job_finished":
        this.setStatus(ev.payload.status);
        if (ev.payload.model_version !== undefined) job.model_version = ev.payload.model_version;
        if (ev.payload.test_metrics !== undefined) job.test_metrics = ev.payload.test_metrics;
        // The event carries only part of the outcome (error, best trial, timestamps).
        refresh = true;
        break;
    }
    this.chartModel.apply(ev);
    return refresh;
  }
}
