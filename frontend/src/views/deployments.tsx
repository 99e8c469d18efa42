import { useEffect, useState, type ReactNode } from "react";
import { api, type Deployment, type ListQuery } from "../api";
import { formatDate } from "../dom";
import { DataTable, ErrorMessage, MessageRow, StatusBadge } from "../ui/common";
import { reactView } from "../ui/page";
import { useLoad } from "../ui/useLoad";
import { ListControls, emptyText } from "../ui/ListControls";

const REFRESH_MS = 2000;
const HEADERS = ["Name", "Model version", "Status", "Created", "Ready"];

function DeploymentRow({ d }: { d: Deployment }): ReactNode {
  return (
    <tr data-testid="deployment-row" data-name={d.name}>
      <td>
        <a href={`#/deployments/${encodeURIComponent(d.name)}`}>{d.name}</a>
      </td>
      <td>
        <a href={`#/versions/${encodeURIComponent(String(d.model_version))}`}>
          {d.model_name ? `${d.model_name} v${String(d.version)}` : `#${String(d.model_version)}`}
        </a>
        {d.alias && <span className="hint">{` (follows ${d.alias})`}</span>}
      </td>
      <td>
        <StatusBadge status={d.status} />
      </td>
      <td>{formatDate(d.created_at)}</td>
      <td>{formatDate(d.ready_at)}</td>
    </tr>
  );
}

/** Every deployment the user sees; asked again every few seconds while one is still loading. */
const DEPLOYMENT_STATUSES = ["READY", "PENDING", "LOADING", "UNLOADED", "FAILED", "UNDEPLOYED"];
const DEPLOYMENT_ORDERINGS: Array<[string, string]> = [
  ["-created_at", "Newest first"],
  ["created_at", "Oldest first"],
  ["name", "Name"],
  ["status", "Status"],
];

export function DeploymentsPage(): ReactNode {
  const [query, setQuery] = useState<ListQuery>({});
  const deployments = useLoad((signal) => api.deployments(signal, query), [query]);
  const { state, data, reload } = deployments;
  const loading = state === "ready" && data.some((d) => d.status === "PENDING" || d.status === "LOADING");

  useEffect(() => {
    if (!loading) return undefined;
    const timer = setTimeout(reload, REFRESH_MS);
    return () => clearTimeout(timer);
  }, [loading, data, reload]);

  let rows: ReactNode;
  if (state === "loading") rows = <MessageRow colSpan={5} text="Loading…" />;
  else if (state === "failed") rows = <MessageRow colSpan={5} text="Could not load the deployments." />;
  else if (!data.length) {
    rows = <MessageRow colSpan={5} text={emptyText(query, "No deployments yet. Deploy a model version from Models or a finished job.")} />;
  } else rows = data.map((d) => <DeploymentRow key={d.name} d={d} />);

  return (
    <>
      <h1>Deployments</h1>
      <ListControls
        id="deployments"
        searchLabel="Search by name"
        statuses={DEPLOYMENT_STATUSES}
        orderings={DEPLOYMENT_ORDERINGS}
        value={query}
        onChange={setQuery}
      />
      <ErrorMessage error={deployments.error} />
      <DataTable id="deployments-table" headers={HEADERS}>
        {rows}
      </DataTable>
    </>
  );
}

export const deploymentsView = reactView(DeploymentsPage);
