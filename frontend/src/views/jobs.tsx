import { useEffect, useState, type ReactNode } from "react";
import { api, type DatasetListItem, type Job, type ListQuery } from "../api";
import { formatDate } from "../dom";
import { DataTable, ErrorMessage, MessageRow, StatusBadge } from "../ui/common";
import { reactView, type PageProps } from "../ui/page";
import { useLoad } from "../ui/useLoad";
import { ListControls, emptyText } from "../ui/ListControls";

const REFRESH_MS = 3000;

export const isFinished = (status: string) => status === "SUCCEEDED" || status === "FAILED" || status === "CANCELLED";

function JobRow({ job, datasetNames }: { job: Job; datasetNames: Map<string, string> }): ReactNode {
  const id = String(job.id);
  const datasetId = String(job.dataset);
  return (
    <tr data-testid="job-row" data-id={id}>
      <td>
        <a href={`#/jobs/${encodeURIComponent(id)}`}>{`Job #${id}`}</a>
      </td>
      <td>
        <a href={`#/datasets/${encodeURIComponent(datasetId)}`}>{datasetNames.get(datasetId) ?? `#${datasetId}`}</a>
      </td>
      <td>{job.target}</td>
      <td>{job.task_type ?? "—"}</td>
      <td>
        <StatusBadge status={job.status} />
      </td>
      <td>{formatDate(job.created_at)}</td>
    </tr>
  );
}

/** The person's jobs, newest first, kept fresh while any is still queued or running. */
const JOB_STATUSES = ["QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"];
const JOB_ORDERINGS: Array<[string, string]> = [
  ["-created_at", "Newest first"],
  ["created_at", "Oldest first"],
  ["-finished_at", "Recently finished"],
  ["status", "Status"],
];

export function JobsPage(_props: PageProps): ReactNode {
  const [query, setQuery] = useState<ListQuery>({});
  const loaded = useLoad(
    (signal) =>
      Promise.all([
        api.jobs(signal, query),
        // Names are a nicety; the list still works without them.
        api.datasets(signal).catch((): DatasetListItem[] => []),
      ]),
    [query],
  );
  const { state, data, reload } = loaded;

  // Keep statuses fresh while something is still queued or running; a failed load stops it.
  const pending = state === "ready" && data[0].some((j) => !isFinished(j.status));
  useEffect(() => {
    if (!pending) return;
    const timer = setTimeout(reload, REFRESH_MS);
    return () => clearTimeout(timer);
  }, [pending, data, reload]);

  let rows: ReactNode;
  if (state === "loading") rows = <MessageRow colSpan={6} text="Loading…" />;
  else if (state === "failed") rows = <MessageRow colSpan={6} text="Could not load the jobs." />;
  else if (!data[0].length) rows = <MessageRow colSpan={6} text={emptyText(query, "No jobs yet. Pick a dataset and start training.")} />;
  else {
    const names = new Map(data[1].map((d) => [String(d.id), d.name]));
    rows = data[0].map((j) => <JobRow key={String(j.id)} job={j} datasetNames={names} />);
  }

  return (
    <>
      <div className="section-head">
        <h1>Jobs</h1>
        <a id="new-job" className="button" href="#/jobs/new">
          New job
        </a>
      </div>
      <ListControls
        id="jobs"
        searchLabel="Search by dataset or target"
        statuses={JOB_STATUSES}
        orderings={JOB_ORDERINGS}
        value={query}
        onChange={setQuery}
      />
      <ErrorMessage error={loaded.error} />
      <DataTable id="jobs-table" headers={["Job", "Dataset", "Target", "Task", "Status", "Created"]}>
        {rows}
      </DataTable>
    </>
  );
}

export const jobsView = reactView(JobsPage);
