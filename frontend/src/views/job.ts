import { api, isNotFound, toSignIn, type Id, type Job, type JobEvent, type JobStatus, type Metrics, type Trial } from "../api";
import {
  errorSlot,
  facts,
  formatDate,
  formatNumber,
  formatPairs,
  h,
  messageRow,
  statusBadge,
  table,
} from "../dom";
import { followJob } from "../jobSocket";
import type { ViewContext } from "../router";
import { cancelControl, formatBudget, stoppedNote } from "./jobCancel";
import { isFinished } from "./jobs";
import { detailTables, scalarTable } from "./metrics";
import { deployControl } from "./deployAsk";
import { JobChartModel } from "./jobChartData";
import { jobCharts } from "./jobCharts";

interface TrialState {
  number: number;
  id?: Id;
  status: string;
  score: number | null;
  hyperparameters: Metrics | null;
  epoch: number | null;
  metrics: Metrics | null;
}

const LOG_LIMIT = 200;

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

export async function jobView(root: HTMLElement, { params, signal }: ViewContext): Promise<void> {
  const id = params.id!;
  const errors = errorSlot();
  const wsErrors = errorSlot();
  root.append(h("p", { class: "crumbs" }, h("a", { href: "#/jobs" }, "← Jobs")), errors.el);

  let job: Job;
  try {
    job = await api.job(id, signal);
  } catch (err) {
    if (isNotFound(err)) throw err; // the router's not-found page
    errors.show(err);
    return;
  }

  const trials = new Map<number, TrialState>();
  for (const t of job.trials ?? []) trials.set(t.number, trialFromApi(t));
  const seen = new Set<number>();
  const chartModel = JobChartModel.fromTrials(job.trials ?? []);
  const charts = jobCharts(signal);

  const statusEl = statusBadge(job.status, { id: "job-status" });
  const wsState = h("span", { id: "ws-state", class: "ws-state" }, "connecting");
  const jobErrorHolder = h("div");
  const stoppedHolder = h("div");
  const waitingHolder = h("div");
  const cancel = cancelControl(
    job.id,
    signal,
    (answer) => {
      job = { ...answer, status: job.status };
      setJobStatus(answer.status);
      renderHeader();
    },
    () => void refresh(),
  );
  const info = h("div");
  const outcome = h("div");
  const trialBody = h("tbody");
  const log = h("ol", { id: "epoch-log", class: "log" });
  const deployErrors = errorSlot();
  let outcomeKey = "";

  root.append(
    h("h1", null, `Job #${String(job.id)} `, statusEl),
    h("p", { class: "muted" }, "Live updates: ", wsState),
    cancel.el,
    jobErrorHolder,
    stoppedHolder,
    waitingHolder,
    wsErrors.el,
    info,
    outcome,
    h("h2", null, "Progress"),
    charts.el,
    h("h2", null, "Trials"),
    table({ id: "trials-table" }, ["#", "Status", "Score (val. loss, lower is better)", "Epoch", "Latest metrics", "Hyperparameters"], trialBody),
    h("h2", null, "Epoch log"),
    log,
  );

  function renderHeader(): void {
    statusEl.textContent = job.status;
    statusEl.dataset.status = job.status;
    jobErrorHolder.replaceChildren(job.error ? h("p", { id: "job-error", class: "error" }, job.error) : "");
    stoppedHolder.replaceChildren(stoppedNote(job));
    waitingHolder.replaceChildren(
      job.status === "QUEUED" && job.waiting_for ? h("p", { id: "job-waiting", class: "note" }, job.waiting_for) : "",
    );
    cancel.update(job);
    const datasetId = String(job.dataset);
    info.replaceChildren(
      facts([
        ["Dataset", h("a", { href: `#/datasets/${encodeURIComponent(datasetId)}` }, `#${datasetId}`)],
        ["Target", job.target],
        ["Task type", job.task_type ?? "suggested from target"],
        ["Budget", h("span", { id: "job-info-budget" }, formatBudget(job))],
        ["Caps (trials / epochs)", `${job.max_trials ?? "none"} / ${job.max_epochs ?? "none"}`],
        ["Seed", h("span", { id: "job-info-seed" }, job.seed === undefined ? "—" : String(job.seed))],
        ["Tuner", job.tuner ?? "random"],
        ["Queue", job.queue ?? "cpu"],
        ["Created", formatDate(job.created_at)],
        ["Started", formatDate(job.started_at)],
        ["Finished", formatDate(job.finished_at)],
      ]),
    );
    // Rebuild the deploy card only when its inputs change, so a click in progress keeps its button.
    const key = job.status === "SUCCEEDED" ? JSON.stringify([job.model_version, job.test_metrics]) : "";
    if (key !== outcomeKey) {
      outcomeKey = key;
      outcome.replaceChildren(key ? renderOutcome() : "");
    }
  }

  function renderOutcome(): HTMLElement {
    const all = (job.test_metrics ?? {}) as Record<string, unknown>;
    const mv = job.model_version;
    const deploy = deployControl(mv ?? null, "Deploy best model", "deploy-button", deployErrors, signal);
    return h(
      "div",
      { class: "card" },
      h("h2", null, "Test metrics"),
      scalarTable(all, "test-metrics", "No test metrics reported."),
      detailTables(all, signal),
      h("div", { class: "actions" }, deploy.button, mv !== null && mv !== undefined
        ? h("a", { class: "hint", id: "job-version-link", href: `#/versions/${encodeURIComponent(String(mv))}` }, `model version #${String(mv)}`)
        : ""),
      deploy.ask,
      deployErrors.el,
    );
  }

  function renderTrials(): void {
    const rows = [...trials.values()].sort((a, b) => a.number - b.number);
    const best = job.best_trial;
    trialBody.replaceChildren(
      ...(rows.length
        ? rows.map((t) =>
            h(
              "tr",
              { "data-testid": "trial-row", "data-trial": t.number, class: best !== null && t.number === best ? "best" : null },
              h("td", { class: "num" }, String(t.number)),
              h("td", null, statusBadge(t.status)),
              h("td", { class: "num" }, formatNumber(t.score)),
              h("td", { class: "num" }, t.epoch === null ? "—" : String(t.epoch)),
              h("td", { class: "compact" }, formatPairs(t.metrics)),
              h("td", { class: "compact" }, formatPairs(t.hyperparameters)),
            ),
          )
        : [messageRow(6, "No trials yet.")]),
    );
  }

  function trial(n: number): TrialState {
    let t = trials.get(n);
    if (!t) {
      t = { number: n, status: "RUNNING", score: null, hyperparameters: null, epoch: null, metrics: null };
      trials.set(n, t);
    }
    return t;
  }

  function setJobStatus(status: JobStatus): void {
    if (advances(JOB_RANK, job.status, status)) job.status = status;
  }

  function appendLog(ev: Extract<JobEvent, { kind: "epoch_end" }>): void {
    const p = ev.payload;
    log.append(h("li", null, `trial ${p.trial} · epoch ${p.epoch} · ${formatPairs(p.metrics)}`));
    while (log.childElementCount > LOG_LIMIT) log.firstElementChild?.remove();
    log.scrollTop = log.scrollHeight;
  }

  async function refresh(): Promise<void> {
    try {
      const fresh = await api.job(id, signal);
      const status = job.status;
      job = { ...fresh, status };
      setJobStatus(fresh.status);
      for (const t of fresh.trials ?? []) {
        const cur = trials.get(t.number);
        if (cur) cur.id = t.id;
      }
      renderHeader();
      renderTrials();
      charts.update(chartModel, job);
    } catch (err) {
      errors.show(err);
    }
  }

  function apply(ev: JobEvent): void {
    if (typeof ev.seq === "number") {
      if (seen.has(ev.seq)) return;
      seen.add(ev.seq);
    }
    switch (ev.kind) {
      case "job_status":
        setJobStatus(ev.payload.status);
        if (ev.payload.status === "RUNNING") job.started_at ??= ev.created_at;
        if (ev.payload.error) job.error = ev.payload.error;
        // A queued job cancelled at once may get no job_finished; fetch its `stopped` and timestamps.
        if (ev.payload.status === "CANCELLED") void refresh();
        break;
      case "cancel_requested":
        job.cancel_requested = true;
        if (ev.payload.keep_best) job.keep_best = true;
        cancel.markCancelling(job.keep_best ?? false);
        break;
      case "trial_started": {
        const t = trial(ev.payload.trial);
        // Running when an earlier attempt's worker died: it starts again from its first epoch.
        if (ev.payload.rerun) Object.assign(t, { status: "RUNNING", score: null, epoch: null, metrics: null });
        break;
      }
      case "search_resumed":
        log.append(h("li", null, `attempt ${ev.payload.attempt} · resumed after ${ev.payload.trials_done} finished trial(s)`));
        break;
      case "epoch_end": {
        const t = trial(ev.payload.trial);
        if (t.epoch === null || ev.payload.epoch >= t.epoch) {
          t.epoch = ev.payload.epoch;
          t.metrics = ev.payload.metrics;
        }
        appendLog(ev);
        break;
      }
      case "trial_finished": {
        const t = trial(ev.payload.trial);
        if (advances(TRIAL_RANK, t.status, ev.payload.status)) t.status = ev.payload.status;
        t.score = ev.payload.score;
        if (ev.payload.hyperparameters) t.hyperparameters = ev.payload.hyperparameters;
        break;
      }
      case "job_finished":
        setJobStatus(ev.payload.status);
        if (ev.payload.model_version !== undefined) job.model_version = ev.payload.model_version;
        if (ev.payload.test_metrics !== undefined) job.test_metrics = ev.payload.test_metrics;
        // The event carries only part of the outcome (error, best trial, timestamps).
        void refresh();
        break;
    }
    chartModel.apply(ev);
    renderHeader();
    renderTrials();
    charts.update(chartModel, job);
  }

  renderHeader();
  renderTrials();
  charts.update(chartModel, job);
  followJob(id, signal, {
    onEvent: apply,
    onState(state) {
      wsState.textContent = state;
      if (state === "live") wsErrors.clear();
    },
    onRefused(code) {
      if (code === 4401) toSignIn();
      wsErrors.show(code === 4401 ? "Not signed in: live updates unavailable." : "Not allowed to follow this job.");
    },
    onDropped() {
      if (isFinished(job.status)) return false;
      // The job may have finished while we were disconnected; the header should say so.
      void refresh();
      return true;
    },
    shouldReconnect: () => !isFinished(job.status),
  });
}
