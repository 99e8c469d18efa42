import { useCallback, useEffect, useLayoutEffect, useRef, useState, type ReactNode } from "react";
import { api, isNotFound, toSignIn, type Id, type Job } from "../api";
import { formatDate, isAbort } from "../dom";
import { followJob, type SocketState } from "../jobSocket";
import { ErrorMessage, Facts, LoadFailure, StatusBadge } from "../ui/common";
import { reactView, type PageProps } from "../ui/page";
import { useLoad } from "../ui/useLoad";
import { DeployButton } from "./deployAsk";
import { CancelControl, formatBudget, StoppedNote } from "./jobCancel";
import { JobCharts } from "./jobCharts";
import { JobLive } from "./jobLive";
import { TrialTable } from "./trialTable";
import { isFinished } from "./jobs";
import { DetailTables, ScalarTable } from "./metrics";

/** The test metrics of a job that succeeded, and the button that deploys its model. */
function Outcome({ job, signal }: { job: Job; signal: AbortSignal }): ReactNode {
  const all = (job.test_metrics ?? {}) as Record<string, unknown>;
  const mv = job.model_version;
  const [error, setError] = useState<unknown>(undefined);
  return (
    <div className="card">
      <h2>Test metrics</h2>
      <ScalarTable all={all} id="test-metrics" empty="No test metrics reported." />
      <DetailTables all={all} />
      <div className="actions">
        <DeployButton versionId={mv ?? null} label="Deploy best model" id="deploy-button" signal={signal} onError={setError} />
        {mv !== null && mv !== undefined && (
          <a className="hint" id="job-version-link" href={`#/versions/${encodeURIComponent(String(mv))}`}>
            {`model version #${String(mv)}`}
          </a>
        )}
      </div>
      <ErrorMessage error={error} />
    </div>
  );
}

/** The job's dataset by its name (the job says only its id); the id until the name comes. */
function DatasetLink({ id }: { id: string }): ReactNode {
  const dataset = useLoad((signal) => api.dataset(id, signal), [id]);
  const name = dataset.state === "ready" ? `${dataset.data.name} (v${String(dataset.data.version ?? 1)})` : `#${id}`;
  return (
    <a id="job-dataset" href={`#/datasets/${encodeURIComponent(id)}`}>
      {name}
    </a>
  );
}

function JobFacts({ job }: { job: Job }): ReactNode {
  const datasetId = String(job.dataset);
  return (
    <Facts
      pairs={[
        ["Dataset", <DatasetLink id={datasetId} />],
        ["Target", job.target],
        ["Task type", job.task_type ?? "suggested from target"],
        ["Budget", <span id="job-info-budget">{formatBudget(job)}</span>],
        ["Caps (trials / epochs)", `${job.max_trials ?? "none"} / ${job.max_epochs ?? "none"}`],
        ["Seed", <span id="job-info-seed">{job.seed === undefined ? "—" : String(job.seed)}</span>],
        ["Tuner", job.tuner ?? "random"],
        ["Queue", job.queue ?? "cpu"],
        ["Created", formatDate(job.created_at)],
        ["Started", formatDate(job.started_at)],
        ["Finished", formatDate(job.finished_at)],
      ]}
    />
  );
}

/** A loaded job, followed live over its websocket until it finishes or the user leaves. */
function LiveJob({ initial, id, signal }: { initial: Job; id: Id; signal: AbortSignal }): ReactNode {
  const [live] = useState(() => new JobLive(initial));
  const [version, setVersion] = useState(0);
  const [error, setError] = useState<unknown>(undefined);
  const [wsState, setWsState] = useState<SocketState>("connecting");
  const [wsError, setWsError] = useState<string | undefined>(undefined);
  const frame = useRef(0);
  const logEl = useRef<HTMLOListElement>(null);

  const redraw = useCallback(() => setVersion((v) => v + 1), []);
  // Events apply to `live` as they come; the page redraws at most once a frame.
  const redrawSoon = useCallback(() => {
    if (frame.current) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = 0;
      redraw();
    });
  }, [redraw]);

  const refresh = useCallback(async () => {
    try {
      live.merge(await api.job(id, signal));
      redraw();
    } catch (err) {
      if (!isAbort(err)) setError(err);
    }
  }, [live, id, signal, redraw]);

  useEffect(() => {
    const controller = new AbortController();
    followJob(id, controller.signal, {
      onEvent(ev) {
        if (live.apply(ev)) void refresh();
        redrawSoon();
      },
      onState(state) {
        setWsState(state);
        if (state === "live") setWsError(undefined);
      },
      onRefused(code) {
        if (code === 4401) toSignIn();
        setWsError(code === 4401 ? "Not signed in: live updates unavailable." : "Not allowed to follow this job.");
      },
      onDropped() {
        if (isFinished(live.job.status)) return false;
        // The job may have finished while we were disconnected; the header should say so.
        void refresh();
        return true;
      },
      shouldReconnect: () => !isFinished(live.job.status),
    });
    return () => {
      controller.abort();
      cancelAnimationFrame(frame.current);
      frame.current = 0;
    };
  }, [live, id, refresh, redrawSoon]);

  const log = live.log;
  useLayoutEffect(() => {
    const el = logEl.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [log]);

  const job = live.job;
  const best = job.best_trial;
  const rows = live.rows();

  return (
    <>
      <ErrorMessage error={error} />
      <h1>
        {`Job #${String(job.id)} `}
        <StatusBadge status={job.status} id="job-status" />
      </h1>
      <p className="muted">
        Live updates:{" "}
        <span id="ws-state" className="ws-state">
          {wsState}
        </span>
      </p>
      <CancelControl
        job={job}
        signal={signal}
        onAnswer={(answer) => {
          live.answered(answer);
          redraw();
        }}
        onConflict={() => void refresh()}
      />
      {job.error && (
        <p id="job-error" className="error">
          {job.error}
        </p>
      )}
      <StoppedNote job={job} />
      {job.status === "QUEUED" && job.waiting_for && (
        <p id="job-waiting" className="note">
          {job.waiting_for}
        </p>
      )}
      <ErrorMessage error={wsError} />
      <JobFacts job={job} />
      {job.status === "SUCCEEDED" && <Outcome job={job} signal={signal} />}
      <h2>Progress</h2>
      <JobCharts model={live.chartModel} job={job} version={version} />
      <h2>Trials</h2>
      <TrialTable trials={rows} best={best === null || best === undefined ? null : Number(best)} />
      <h2>Epoch log</h2>
      <ol id="epoch-log" className="log" ref={logEl}>
        {log.map((line) => (
          <li key={line.key}>{line.text}</li>
        ))}
      </ol>
    </>
  );
}

/** A job's page: its state, charts and trials, updated live as epochs and trials arrive. */
export function JobPage({ ctx }: PageProps): ReactNode {
  const id = ctx.params.id!;
  const loaded = useLoad((signal) => api.job(id, signal), [id]);
  // Not there (deleted, mistyped, someone else's): a whole page that says so.
  if (loaded.state === "failed") {
    return (
      <>
        {!isNotFound(loaded.error) && <Crumbs />}
        <LoadFailure error={loaded.error} />
      </>
    );
  }
  return (
    <>
      <Crumbs />
      {loaded.state === "loading" ? (
        <p className="muted">Loading…</p>
      ) : (
        <LiveJob key={id} initial={loaded.data} id={id} signal={ctx.signal} />
      )}
    </>
  );
}

function Crumbs(): ReactNode {
  return (
    <p className="crumbs">
      <a href="#/jobs">← Jobs</a>
    </p>
  );
}

export const jobView = reactView(JobPage);
