import { useEffect, useRef, useState, type ReactNode } from "react";
import { ApiError, api, type DatasetListItem, type ListQuery } from "../api";
import { isAbort } from "../dom";
import { DataTable, ErrorMessage, MessageRow, StatusBadge } from "../ui/common";
import { ListControls, emptyText } from "../ui/ListControls";
import { reactView, type PageProps } from "../ui/page";
import { UploadForm, datasetHref } from "./uploadForm";

const REFRESH_MS = 1500;
const COLUMNS = ["Name", "Rows", "Columns", "Kind", "Version", "SHA-256", "Status", ""];

const ORDERINGS: Array<[string, string]> = [
  ["-created_at", "Newest first"],
  ["created_at", "Oldest first"],
  ["name", "Name"],
  ["-n_rows", "Most rows"],
  ["-size_bytes", "Largest file"],
];
const STATUSES = ["READY", "PROFILING", "PENDING", "FAILED"];

export const isProfiling = (status: string) => status === "PENDING" || status === "PROFILING";

function DatasetRow({ ds }: { ds: DatasetListItem }): ReactNode {
  const sha = ds.sha256 ?? "";
  const href = datasetHref(ds.id);
  return (
    <tr data-testid="dataset-row" data-id={String(ds.id)} data-status={ds.status}>
      <td>
        <a href={href}>{ds.name}</a>
      </td>
      <td className="num">{String(ds.n_rows ?? "—")}</td>
      <td className="num">{String(ds.n_columns ?? "—")}</td>
      <td>{ds.kind ?? "—"}</td>
      <td className="num">{`v${ds.version ?? 1}`}</td>
      <td>
        <code title={sha}>{sha.slice(0, 12)}</code>
      </td>
      <td>
        <StatusBadge status={ds.status} />
      </td>
      <td>
        <a href={href}>{ds.kind === "image" ? "Open" : "Train"}</a>
      </td>
    </tr>
  );
}

/** The datasets list with the upload form; rows still being profiled are looked at again
 * every 1.5 s until each is READY or FAILED. */
export function DatasetsPage({ ctx }: PageProps): ReactNode {
  const [datasets, setDatasets] = useState<DatasetListItem[] | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  const [generation, setGeneration] = useState(0);
  const [round, setRound] = useState(0);
  const [query, setQuery] = useState<ListQuery>({});
  // Rows deleted while being profiled: no longer asked about.
  const gone = useRef(new Set<string>());

  useEffect(() => {
    const controller = new AbortController();
    api.datasets(controller.signal, query).then(
      (list) => {
        gone.current.clear();
        setDatasets(list);
        setError(undefined);
      },
      (err: unknown) => {
        if (!isAbort(err) && !controller.signal.aborted) setError(err);
      },
    );
    return () => controller.abort();
  }, [generation, query]);

  const pending = (datasets ?? [])
    .filter((ds) => isProfiling(ds.status) && !gone.current.has(String(ds.id)))
    .map((ds) => String(ds.id))
    .join(",");

  useEffect(() => {
    if (!pending) return undefined;
    const controller = new AbortController();
    const timer = setTimeout(async () => {
      const fresh = new Map<string, DatasetListItem>();
      await Promise.all(
        pending.split(",").map((id) =>
          api.dataset(id, controller.signal).then(
            (ds) => void fresh.set(id, ds),
            (err: unknown) => {
              if (isAbort(err)) return;
              // Deleted meanwhile: stop asking; any other failure is tried again next round.
              if (err instanceof ApiError && err.status === 404) gone.current.add(id);
            },
          ),
        ),
      );
      if (controller.signal.aborted) return;
      setDatasets((list) => list && list.map((ds) => fresh.get(String(ds.id)) ?? ds));
      setRound((r) => r + 1);
    }, REFRESH_MS);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [pending, round]);

  let rows: ReactNode;
  if (datasets === null) rows = <MessageRow colSpan={COLUMNS.length} text="Loading…" />;
  else if (!datasets.length) rows = <MessageRow colSpan={COLUMNS.length} text={emptyText(query, "No datasets yet. Upload one above.")} />;
  else rows = datasets.map((ds) => <DatasetRow key={String(ds.id)} ds={ds} />);

  return (
    <>
      <h1>Datasets</h1>
      <UploadForm signal={ctx.signal} onUploaded={() => setGeneration((g) => g + 1)} />
      <h2>Your datasets</h2>
      <ListControls
        id="datasets"
        searchLabel="Search by name"
        statuses={STATUSES}
        orderings={ORDERINGS}
        value={query}
        onChange={setQuery}
      />
      <ErrorMessage error={error} />
      <DataTable id="datasets-table" headers={COLUMNS}>
        {rows}
      </DataTable>
    </>
  );
}

export const datasetsView = reactView(DatasetsPage);
