// A dataset's page: live profiling status over /ws/datasets/<id>/, then its profile, rows,
// versions and the way into the new-job wizard.
import { useEffect, useState, type ReactNode } from "react";
import { api, toSignIn, type Dataset, type DatasetEvent, type DatasetStatus } from "../api";
import { followDataset } from "../jobSocket";
import { ErrorMessage, LoadFailure, StatusBadge } from "../ui/common";
import { reactView, type PageProps } from "../ui/page";
import { useLoad } from "../ui/useLoad";
import { isProfiling } from "./datasets";
import { ColumnsTable, ImageSummaryView, SummaryCard, WarningsList } from "./datasetProfile";
import { RowsPreview } from "./datasetRows";
import { VersionForm, VersionsList } from "./datasetVersion";
import { suggestTarget, suggestTaskType } from "./wizardRules";

const POLL_MS = 1500;
// Replayed events can be older than what the first GET showed; never move backwards.
const RANK: Record<string, number> = { PENDING: 0, PROFILING: 1, READY: 2, FAILED: 2 };
const isDone = (status: string) => !isProfiling(status);

/** The way into the new-job wizard, with what it will suggest. */
export function TrainCard({ ds }: { ds: Dataset }): ReactNode {
  const target = suggestTarget(ds);
  const task = target ? suggestTaskType(ds, target) : "";
  return (
    <div className="card" id="train-card">
      <h2>Train a model</h2>
      <p className="muted">
        {target
          ? `Suggested: predict “${target}”${task ? ` (${task})` : ""}. Every choice can be changed in the wizard.`
          : "Choose the column to predict in the wizard."}
      </p>
      <a id="train-link" className="button" href={`#/jobs/new/${encodeURIComponent(String(ds.id))}`}>
        New training job
      </a>
    </div>
  );
}

function ReadyBody({ ds, signal }: { ds: Dataset; signal: AbortSignal }): ReactNode {
  const profile = ds.profile ?? {};
  const cards = (
    <div className="split">
      <SummaryCard ds={ds} />
      <TrainCard ds={ds} />
    </div>
  );
  if (ds.kind === "image" || profile.images) {
    return (
      <>
        {cards}
        <ImageSummaryView images={profile.images ?? {}} />
      </>
    );
  }
  return (
    <>
      {cards}
      <h2>Warnings</h2>
      <WarningsList profile={profile} />
      <h2>Columns</h2>
      <div className="table-scroll" tabIndex={0} role="region" aria-label="Columns">
        <ColumnsTable ds={ds} />
      </div>
      <RowsPreview ds={ds} />
      <div className="split">
        <VersionForm ds={ds} signal={signal} />
        <VersionsList ds={ds} />
      </div>
    </>
  );
}

interface Live {
  ds: Dataset;
  /** Whether a GET (not just an event) has shown the dataset done, profile and all. */
  fetchedDone: boolean;
  fraction: number;
  wsState: string;
  wsError: string | null;
  error: unknown;
}

/** READY needs the profile, which only the GET carries; it is drawn once that is in. */
function bodyKey({ ds, fetchedDone }: Live): "ready" | "ready-waiting" | "failed" | "profiling" {
  const hasProfile = ds.profile && Object.keys(ds.profile).length > 0;
  if (ds.status === "READY") return hasProfile || fetchedDone ? "ready" : "ready-waiting";
  return ds.status === "FAILED" ? "failed" : "profiling";
}

/** The page once the dataset is read: follows profiling live until it is done. */
function DatasetLive({ first, signal }: { first: Dataset; signal: AbortSignal }): ReactNode {
  const [live, setLive] = useState<Live>(() => ({
    ds: first,
    fetchedDone: isDone(first.status),
    fraction: first.status === "READY" ? 1 : 0,
    wsState: "connecting",
    wsError: null,
    error: undefined,
  }));

  useEffect(() => {
    if (isDone(first.status)) return undefined;
    const id = first.id;
    // The socket lives only while profiling; it is closed as soon as the dataset is done.
    const following = new AbortController();
    const fetching = new AbortController();
    let pollTimer: ReturnType<typeof setTimeout> | undefined;
    let cur: Live = { ds: first, fetchedDone: false, fraction: 0, wsState: "connecting", wsError: null, error: undefined };
    const update = (change: Partial<Live>) => {
      cur = { ...cur, ...change };
      if (cur.ds.status === "READY") cur.fraction = 1;
      setLive(cur);
    };

    /** Reads the dataset again; once it is done and profiled, the socket is no longer needed. */
    async function refresh(): Promise<void> {
      try {
        const fresh = await api.dataset(id, fetching.signal);
        const status = (RANK[fresh.status] ?? 0) >= (RANK[cur.ds.status] ?? 0) ? fresh.status : cur.ds.status;
        update({ ds: { ...fresh, status, error: fresh.error || cur.ds.error }, fetchedDone: isDone(fresh.status), error: undefined });
      } catch (err) {
        if (fetching.signal.aborted) return;
        update({ error: err });
      }
      if (isDone(cur.ds.status) && bodyKey(cur) !== "ready-waiting") {
        following.abort();
        clearTimeout(pollTimer);
      } else if (isDone(cur.ds.status) && !fetching.signal.aborted) {
        // An event said READY before the GET could show the profile: look again shortly.
        clearTimeout(pollTimer);
        pollTimer = setTimeout(() => void refresh(), POLL_MS);
      }
    }

    const seen = new Set<number>();
    function apply(ev: DatasetEvent): void {
      if (typeof ev.seq === "number") {
        if (seen.has(ev.seq)) return;
        seen.add(ev.seq);
      }
      if (ev.kind === "profile_progress") {
        const f = ev.payload?.fraction;
        if (typeof f === "number") update({ fraction: Math.min(1, Math.max(cur.fraction, f)) });
      } else if (ev.kind === "dataset_status") {
        const wasDone = isDone(cur.ds.status);
        const status: DatasetStatus = ev.payload.status;
        let ds = cur.ds;
        if ((RANK[status] ?? 0) >= (RANK[ds.status] ?? 0)) ds = { ...ds, status };
        if (ev.payload.error) ds = { ...ds, error: ev.payload.error };
        update({ ds });
        if (!wasDone && isDone(cur.ds.status)) void refresh();
      }
    }

    /** Without a socket (refused), ask every 1.5 s instead. */
    function poll(): void {
      clearTimeout(pollTimer);
      pollTimer = setTimeout(async () => {
        await refresh();
        if (!isDone(cur.ds.status) && !fetching.signal.aborted) poll();
      }, POLL_MS);
    }

    followDataset(id, following.signal, {
      onEvent: apply,
      onState(state) {
        update(state === "live" ? { wsState: state, wsError: null } : { wsState: state });
      },
      onRefused(code) {
        if (code === 4401) toSignIn();
        update({ wsError: code === 4401 ? "Not signed in: live updates unavailable." : "Not allowed to follow this dataset." });
        poll();
      },
      onDropped() {
        if (isDone(cur.ds.status)) return false;
        void refresh(); // it may have finished while we were disconnected
        return true;
      },
      shouldReconnect: () => !isDone(cur.ds.status),
    });
    return () => {
      following.abort();
      fetching.abort();
      clearTimeout(pollTimer);
    };
  }, [first]);

  const { ds, fraction } = live;
  const done = isDone(ds.status);
  const key = bodyKey(live);
  let body: ReactNode = null;
  if (key === "ready") body = <ReadyBody ds={ds} signal={signal} />;
  else if (key === "failed") {
    body = (
      <div className="split">
        <SummaryCard ds={ds} />
      </div>
    );
  } else if (key === "profiling") {
    body = (
      <>
        <div className="split">
          <SummaryCard ds={ds} />
        </div>
        <p className="muted" id="profiling-note">
          The columns, rows and the way to train appear once profiling is done.
        </p>
      </>
    );
  }

  return (
    <>
      <ErrorMessage error={live.error} />
      <h1>
        <span id="dataset-name">{ds.name}</span>
        <span className="hint">{`v${ds.version ?? 1}`}</span>
        <StatusBadge status={ds.status} id="dataset-status" />
      </h1>
      <p className="muted" hidden={done}>
        Live updates:{" "}
        <span id="ws-state" className="ws-state">
          {live.wsState}
        </span>
      </p>
      <div className="progress-row" hidden={done}>
        <progress id="profile-progress" max={1} value={fraction} aria-label="Profiling progress" />
        <span id="profile-percent" className="percent">{`${Math.floor(fraction * 100)}%`}</span>
        <span className="hint">profiling</span>
      </div>
      <ErrorMessage error={live.wsError ?? undefined} />
      <div>
        {ds.status === "FAILED" && (
          <p id="dataset-error" className="error" role="alert">
            {ds.error || "Profiling failed."}
          </p>
        )}
      </div>
      <div id="dataset-body">{body}</div>
    </>
  );
}

export function DatasetPage({ ctx }: PageProps): ReactNode {
  const id = ctx.params.id!;
  const first = useLoad((signal) => api.dataset(id, signal), [id]);
  return (
    <>
      <p className="crumbs">
        <a href="#/datasets">← Datasets</a>
      </p>
      {first.state === "failed" && <LoadFailure error={first.error} />}
      {first.state === "ready" && <DatasetLive first={first.data} signal={ctx.signal} />}
    </>
  );
}

export const datasetDetailView = reactView(DatasetPage);
