import { useState, type ReactNode } from "react";
import { api, type ListQuery, type ModelVersion, type RegisteredModel } from "../api";
import { formatDate, formatPairs } from "../dom";
import { ErrorMessage, MessageRow } from "../ui/common";
import { reactView, type PageProps } from "../ui/page";
import { useLoad } from "../ui/useLoad";
import { ListControls, emptyText } from "../ui/ListControls";
import { DeployButton } from "./deployAsk";
import { scalarMetrics } from "./metricsData";
import "./registry.css";

const HEADERS = ["Model / version", "Task", "Metrics", "Job", "Created", ""];

/** The contract leaves `latest_version`'s shape open: accept a number, an id or a nested version. */
export function latestLabel(latest: unknown): string {
  if (latest === null || latest === undefined) return "none";
  if (typeof latest === "object" && "version" in latest) return `v${String((latest as { version: unknown }).version)}`;
  return `v${String(latest)}`;
}

function VersionRow({
  v,
  signal,
  onError,
}: {
  v: ModelVersion;
  signal: AbortSignal;
  onError: (err: unknown) => void;
}): ReactNode {
  const job = v.job === null || v.job === undefined ? null : String(v.job);
  return (
    <tr data-testid="version-row" data-version={v.version}>
      <td className="indent">
        <a href={`#/versions/${encodeURIComponent(String(v.id))}`} data-testid="version-link">
          {`v${v.version}`}
        </a>
        {(v.aliases ?? []).map((n) => (
          <span key={n}>
            {" "}
            <span className="status alias">{n}</span>
          </span>
        ))}
        {v.archived_at && (
          <>
            {" "}
            <span className="status" data-status="CANCELLED">
              archived
            </span>
          </>
        )}
      </td>
      <td>{v.task_type}</td>
      <td className="compact">{formatPairs(Object.fromEntries(scalarMetrics(v.metrics)))}</td>
      <td>{job ? <a href={`#/jobs/${encodeURIComponent(job)}`}>{`#${job}`}</a> : "—"}</td>
      <td>{formatDate(v.created_at)}</td>
      <td>
        <DeployButton
          versionId={v.id}
          label="Deploy"
          id={`deploy-version-${String(v.id)}`}
          testId="deploy-version"
          signal={signal}
          onError={onError}
        />
      </td>
    </tr>
  );
}

function ModelGroup({
  m,
  signal,
  onError,
}: {
  m: RegisteredModel;
  signal: AbortSignal;
  onError: (err: unknown) => void;
}): ReactNode {
  const versions = [...(m.versions ?? [])].sort((a, b) => b.version - a.version);
  return (
    <tbody className="model-group">
      <tr data-testid="model-row" className="group">
        <th colSpan={HEADERS.length} scope="rowgroup">
          <span className="model-name">{m.name}</span>
          <span className="hint">{` · ${m.task_type} · latest ${latestLabel(m.latest_version)}`}</span>
          {m.tags?.length ? <span className="hint">{` · ${m.tags.join(", ")}`}</span> : null}
        </th>
      </tr>
      {versions.length ? (
        versions.map((v) => <VersionRow key={v.id} v={v} signal={signal} onError={onError} />)
      ) : (
        <MessageRow colSpan={HEADERS.length} text="No versions." />
      )}
    </tbody>
  );
}

/** The registered models, each with its versions, newest first; any version can be deployed. */
const MODEL_ORDERINGS: Array<[string, string]> = [
  ["-created_at", "Newest first"],
  ["created_at", "Oldest first"],
  ["name", "Name"],
];

export function ModelsPage({ ctx }: PageProps): ReactNode {
  const [query, setQuery] = useState<ListQuery>({});
  // The list has no versions; each model's detail does.
  const models = useLoad(
    async (signal) => Promise.all((await api.models(signal, query)).map((m) => api.model(m.id, signal))),
    [query],
  );
  const [error, setError] = useState<unknown>(undefined);

  let body: ReactNode;
  if (models.state === "loading")
    body = (
      <tbody>
        <MessageRow colSpan={HEADERS.length} text="Loading…" />
      </tbody>
    );
  else if (models.state === "failed") body = null;
  else if (!models.data.length)
    body = (
      <tbody>
        <MessageRow colSpan={HEADERS.length} text={emptyText(query, "No models yet. A successful job registers one.")} />
      </tbody>
    );
  else body = models.data.map((m) => <ModelGroup key={m.id} m={m} signal={ctx.signal} onError={setError} />);

  return (
    <>
      <h1>Models</h1>
      <ListControls id="models" searchLabel="Search by name" orderings={MODEL_ORDERINGS} value={query} onChange={setQuery} />
      <ErrorMessage error={error ?? models.error} />
      <table id="models-table">
        <thead>
          <tr>
            {HEADERS.map((t, i) => (
              <th key={i}>{t}</th>
            ))}
          </tr>
        </thead>
        {body}
      </table>
    </>
  );
}

export const modelsView = reactView(ModelsPage);
