import { describe, expect, it } from "vitest";
import type { Job, JobEvent } from "../types";
import { JobLive, LOG_LIMIT } from "./jobLive";
import { apiTrial } from "./trialFixtures";

const job = (overrides: Partial<Job> = {}): Job =>
  ({ id: 1, status: "RUNNING", trials: [], started_at: null, ...overrides }) as unknown as Job;

let seq = 0;
const ev = (kind: JobEvent["kind"], payload: Record<string, unknown>): JobEvent =>
  ({ seq: ++seq, kind, payload, created_at: "2026-12-03T10:00:00Z" }) as unknown as JobEvent;

describe("JobLive", () => {
  it("never moves the job's status backwards, whatever a replay or a late GET says", () => {
    const live = new JobLive(job({ status: "SUCCEEDED" }));
    live.apply(ev("job_status", { status: "RUNNING" }));
    expect(live.job.status).toBe("SUCCEEDED");
    live.merge(job({ status: "QUEUED", best_trial: 2 } as Partial<Job>));
    expect(live.job.status).toBe("SUCCEEDED");
    expect(live.job.best_trial).toBe(2);
  });

  it("asks for a fresh GET when the job finishes or is cancelled, not on every event", () => {
    const live = new JobLive(job());
    expect(live.apply(ev("epoch_end", { trial: 0, epoch: 1, metrics: {} }))).toBe(false);
    expect(live.apply(ev("job_status", { status: "CANCELLED" }))).toBe(true);
    expect(live.apply(ev("job_finished", { status: "CANCELLED" }))).toBe(true);
  });

  it("restarts a rerun trial from its first epoch and keeps a finished trial finished", () => {
    const live = new JobLive(job({ trials: [apiTrial(0, 0.4, { units: 8 })] }));
    live.apply(ev("trial_finished", { trial: 0, status: "RUNNING", score: 0.4, hyperparameters: null }));
    expect(live.rows()[0]).toMatchObject({ status: "COMPLETED", hyperparameters: { units: 8 } });
    live.apply(ev("epoch_end", { trial: 1, epoch: 3, metrics: { val_loss: 1 } }));
    live.apply(ev("trial_started", { trial: 1, rerun: true }));
    expect(live.rows()[1]).toMatchObject({ status: "RUNNING", epoch: null, metrics: null });
  });

  it("ignores a repeated seq and keeps only the latest log lines", () => {
    const live = new JobLive(job());
    const once = ev("search_resumed", { attempt: 2, trials_done: 1 });
    live.apply(once);
    live.apply(once);
    expect(live.log.map((l) => l.text)).toEqual(["attempt 2 · resumed after 1 finished trial(s)"]);
    for (let i = 0; i < LOG_LIMIT + 5; i++) live.apply(ev("epoch_end", { trial: 0, epoch: i, metrics: {} }));
    expect(live.log).toHaveLength(LOG_LIMIT);
    expect(live.log[LOG_LIMIT - 1]!.text).toBe(`trial 0 · epoch ${LOG_LIMIT + 4} · —`);
  });
});
