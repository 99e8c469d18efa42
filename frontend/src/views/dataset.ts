// A dataset's page: live profiling status over /ws/datasets/<id>/, then its profile, rows,
// versions and the way into the new-job wizard.
import { api, isNotFound, toSignIn, type Dataset, type DatasetEvent, type DatasetStatus } from "../api";
import { errorSlot, h, statusBadge } from "../dom";
import { followDataset } from "../jobSocket";
import type { ViewContext } from "../router";
import { isProfiling } from "./datasets";
import { columnsTable, imageSummary, summaryCard, warningsList } from "./datasetProfile";
import { rowsPreview } from "./datasetRows";
import { versionForm, versionsList } from "./datasetVersion";
import { trainCard } from "./jobWizardFields";

const POLL_MS = 1500;
// Replayed events can be older than what the first GET showed; never move backwards.
const RANK: Record<string, number> = { PENDING: 0, PROFILING: 1, READY: 2, FAILED: 2 };
const isDone = (status: string) => !isProfiling(status);

function readyBody(ds: Dataset, signal: AbortSignal): HTMLElement[] {
  const profile = ds.profile ?? {};
  if (ds.kind === "image" || profile.images) {
    return [
      h("div", { class: "split" }, summaryCard(ds), trainCard(ds)),
      imageSummary(profile.images ?? {}),
    ];
  }
  return [
    h("div", { class: "split" }, summaryCard(ds), trainCard(ds)),
    h("h2", null, "Warnings"),
    warningsList(profile),
    h("h2", null, "Columns"),
    h("div", { class: "table-scroll" }, columnsTable(ds)),
    rowsPreview(ds, signal),
    h("div", { class: "split" }, versionForm(ds, signal), versionsList(ds, signal)),
  ];
}

export async function datasetDetailView(root: HTMLElement, { params, signal }: ViewContext): Promise<void> {
  const id = params.id!;
  const errors = errorSlot();
  const wsErrors = errorSlot();
  root.append(h("p", { class: "crumbs" }, h("a", { href: "#/datasets" }, "← Datasets")), errors.el);

  let ds: Dataset;
  try {
    ds = await api.dataset(id, signal);
  } catch (err) {
    if (isNotFound(err)) throw err; // the router's not-found page
    errors.show(err);
    return;
  }

  const name = h("span", { id: "dataset-name" }, ds.name);
  const version = h("span", { class: "hint" }, `v${ds.version ?? 1}`);
  const statusEl = statusBadge(ds.status, { id: "dataset-status" });
  const wsState = h("span", { id: "ws-state", class: "ws-state" }, "connecting");
  const progress = h("progress", { id: "profile-progress", max: 1, value: 0, "aria-label": "Profiling progress" });
  const percent = h("span", { id: "profile-percent", class: "percent" }, "0%");
  const progressRow = h("div", { class: "progress-row" }, progress, percent, h("span", { class: "hint" }, "profiling"));
  const live = h("p", { class: "muted" }, "Live updates: ", wsState);
  const errorHolder = h("div");
  const body = h("div", { id: "dataset-body" });
  let bodyKey = "";
  let fraction = 0;
  // Whether a GET (not just an event) has shown the dataset done, profile and all.
  let fetchedDone = isDone(ds.status);

  root.append(h("h1", null, name, version, statusEl), live, progressRow, wsErrors.el, errorHolder, body);

  // The socket lives only while profiling; it is closed as soon as the dataset is done.
  const following = new AbortController();
  signal.addEventListener("abort", () => following.abort());
  let pollTimer: ReturnType<typeof setTimeout> | undefined;
  signal.addEventListener("abort", () => clearTimeout(pollTimer));

  function setProgress(f: number): void {
    fraction = Math.min(1, Math.max(fraction, f));
    progress.value = fraction;
    percent.textContent = `${Math.floor(fraction * 100)}%`;
  }

  function render(): void {
    statusEl.textContent = ds.status;
    statusEl.dataset.status = ds.status;
    name.textContent = ds.name;
    version.textContent = `v${ds.version ?? 1}`;
    const done = isDone(ds.status);
    if (ds.status === "READY") setProgress(1);
    progressRow.hidden = done;
    live.hidden = done;
    errorHolder.replaceChildren(
      ds.status === "FAILED" ? h("p", { id: "dataset-error", class: "error", role: "alert" }, ds.error || "Profiling failed.") : "",
    );
    // READY needs the profile, which only the GET carries; wait for it before drawing.
    const hasProfile = ds.profile && Object.keys(ds.profile).length > 0;
    const key =
      ds.status === "READY" ? (hasProfile || fetchedDone ? "ready" : "ready-waiting") : ds.status === "FAILED" ? "failed" : "profiling";
    if (key === bodyKey) return;
    bodyKey = key;
    if (key === "ready") body.replaceChildren(...readyBody(ds, signal));
    else if (key === "failed") body.replaceChildren(h("div", { class: "split" }, summaryCard(ds)));
    else {
      body.replaceChildren(
        h("div", { class: "split" }, summaryCard(ds)),
        h("p", { class: "muted", id: "profiling-note" }, "The columns, rows and the way to train appear once profiling is done."),
      );
    }
  }

  function setStatus(status: DatasetStatus, error?: string | null): void {
    if ((RANK[status] ?? 0) >= (RANK[ds.status] ?? 0)) ds = { ...ds, status };
    if (error) ds = { ...ds, error };
  }

  /** Reads the dataset again; once it is done and profiled, the socket is no longer needed. */
  async function refresh(): Promise<void> {
    try {
      const fresh = await api.dataset(id, signal);
      const status = (RANK[fresh.status] ?? 0) >= (RANK[ds.status] ?? 0) ? fresh.status : ds.status;
      ds = { ...fresh, status, error: fresh.error || ds.error };
      fetchedDone = isDone(fresh.status);
      errors.clear();
    } catch (err) {
      errors.show(err);
    }
    render();
    if (isDone(ds.status) && bodyKey !== "ready-waiting") {
      following.abort();
      clearTimeout(pollTimer);
    } else if (isDone(ds.status) && !signal.aborted) {
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
      if (typeof ev.payload?.fraction === "number") setProgress(ev.payload.fraction);
    } else if (ev.kind === "dataset_status") {
      const wasDone = isDone(ds.status);
      setStatus(ev.payload.status, ev.payload.error);
      if (!wasDone && isDone(ds.status)) void refresh();
    }
    render();
  }

  /** Without a socket (refused), ask every 1.5 s instead. */
  function poll(): void {
    clearTimeout(pollTimer);
    pollTimer = setTimeout(async () => {
      await refresh();
      if (!isDone(ds.status) && !signal.aborted) poll();
    }, POLL_MS);
  }

  render();
  if (isDone(ds.status)) return;
  followDataset(id, following.signal, {
    onEvent: apply,
    onState(state) {
      wsState.textContent = state;
      if (state === "live") wsErrors.clear();
    },
    onRefused(code) {
      if (code === 4401) toSignIn();
      wsErrors.show(code === 4401 ? "Not signed in: live updates unavailable." : "Not allowed to follow this dataset.");
      poll();
    },
    onDropped() {
      if (isDone(ds.status)) return false;
      void refresh(); // it may have finished while we were disconnected
      return true;
    },
    shouldReconnect: () => !isDone(ds.status),
  });
}
