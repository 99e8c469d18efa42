import { useState, type ReactNode } from "react";
import { Button } from "react-aria-components";
import { api, type Deployment, type ModelVersion } from "../api";
import { formatDate, formatPairs } from "../dom";
import { navigate } from "../router";
import { ErrorMessage, Facts, LoadFailure } from "../ui/common";
import { ConfirmButton } from "../ui/deploysConfirm";
import { reactView, type PageProps } from "../ui/page";
import { useLoad } from "../ui/useLoad";
import { KeysPanel, MetricsPanel } from "./deploymentPanels";
import { scalarMetrics } from "./metricsData";
import { PredictForm } from "./predict";
import { ServingPanel } from "./deploymentServing";
import { useLiveDeployment } from "./useLiveDeployment";
import "./deploys.css";

/** READY, or UNLOADED for idleness: the next prediction loads it again (a second or so). */
function servable(status: string | undefined): boolean {
  return status === "READY" || status === "UNLOADED";
}

function versionLabel(d: Deployment): string {
  return d.model_name ? `${d.model_name} v${String(d.version)}` : `#${String(d.model_version)}`;
}

/** The served version's summary and its try-it form; a swap or a promoted canary serves another
 * version, and the form follows. */
function TryIt({ d, signal }: { d: Deployment; signal: AbortSignal }): ReactNode {
  const version = useLoad<ModelVersion>((s) => api.modelVersion(d.model_version, s), [d.model_version]);
  if (version.state === "loading") return <p className="muted">Loading model version…</p>;
  if (version.state === "failed") return <ErrorMessage error={version.error} />;
  const v = version.data;
  return (
    <>
      <p className="muted">
        {`${v.model_name} v${v.version} · ${v.task_type} · predicts “${v.target}”`}
        {v.metrics ? ` · ${formatPairs(Object.fromEntries(scalarMetrics(v.metrics)))}` : ""}
      </p>
      <PredictForm key={String(v.id)} deploymentName={d.name} version={v} ready={servable(d.status)} signal={signal} />
    </>
  );
}

function DeploymentDetail({ first, mine, signal }: { first: Deployment; mine: boolean; signal: AbortSignal }): ReactNode {
  const name = first.name;
  const live = useLiveDeployment(name, first);
  const d = live.deployment;
  const [actionError, setActionError] = useState<unknown>(undefined);

  async function undeploy(): Promise<void> {
    setActionError(undefined);
    live.clearError();
    try {
      live.show(await api.undeploy(name, signal));
    } catch (err) {
      setActionError(err);
    }
  }

  async function remove(): Promise<void> {
    setActionError(undefined);
    live.clearError();
    try {
      await api.deleteDeployment(name, signal);
      navigate("#/deployments");
    } catch (err) {
      setActionError(err);
    }
  }

  return (
    <>
      <p className="crumbs">
        <a href="#/deployments">← Deployments</a>
      </p>
      <h1>
        {name}{" "}
        <span
          className="status"
          id="deployment-status"
          data-status={d.status}
          title={d.status === "UNLOADED" ? "Unloaded for idleness; the next prediction loads it again." : undefined}
        >
          {d.status}
        </span>
      </h1>
      <div className="actions">
        <Button id="undeploy-button" className="secondary" isDisabled={d.status === "UNDEPLOYED"} onPress={() => void undeploy()}>
          Undeploy
        </Button>
        <ConfirmButton
          id="delete-deployment"
          title="Delete this deployment?"
          question={`Delete the deployment “${name}”? Its endpoint stops answering.`}
          confirmLabel="Delete deployment"
          onConfirm={() => void remove()}
        >
          Delete
        </ConfirmButton>
      </div>
      <ErrorMessage error={actionError ?? live.error} />
      <div>
        {d.status === "FAILED" && (
          <p id="deployment-error" className="error">
            {d.error || "Deployment failed."}
          </p>
        )}
      </div>
      {/* Shown as text, never as a link: the URL comes from the server. */}
      <p className="endpoint">
        Endpoint: <code id="deployment-endpoint">{d.endpoint_url || "—"}</code>
        <span className="hint"> (call it with an Authorization: Token header)</span>
      </p>
      <Facts
        pairs={[
          [
            "Model version",
            <a id="deployment-version" href={`#/versions/${encodeURIComponent(String(d.model_version))}`}>
              {versionLabel(d)}
            </a>,
          ],
          ["Follows alias", d.alias ?? "—"],
          ["Created", formatDate(d.created_at)],
          ["Ready", formatDate(d.ready_at)],
        ]}
      />
      <ServingPanel d={d} signal={signal} onChange={(changed) => live.show(changed)} />
      <h2>Try a prediction</h2>
      <TryIt d={d} signal={signal} />
      <MetricsPanel name={name} />
      <KeysPanel name={name} mine={mine} />
    </>
  );
}

/** A deployment: its live status, endpoint, a form to try it, its traffic and its API keys. */
export function DeploymentPage({ ctx }: PageProps): ReactNode {
  const name = ctx.params.name!;
  // Asked first: an unknown name is the not-found page, not a PENDING badge.
  const loaded = useLoad((signal) => Promise.all([api.deployment(name, signal), api.me(signal)]), [name]);
  if (loaded.state === "loading") return <p className="muted">Loading…</p>;
  if (loaded.state === "failed") return <LoadFailure error={loaded.error} />;
  const [first, me] = loaded.data;
  return (
    <DeploymentDetail
      key={name}
      first={first}
      mine={first.owner === undefined || first.owner === me.username}
      signal={ctx.signal}
    />
  );
}

export const deploymentView = reactView(DeploymentPage);
