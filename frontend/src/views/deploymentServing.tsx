import { useRef, useState, type ReactNode } from "react";
import { Button, Input, Label, NumberField } from "react-aria-components";
import { api, type Deployment, type ModelVersion } from "../api";
import { formatNumber } from "../dom";
import { Choice } from "../ui/Choice";
import { ErrorMessage } from "../ui/common";
import { CopyButton } from "../ui/CopyButton";
import { useLoad } from "../ui/useLoad";
import { scalarMetrics } from "./metricsData";

function optionText(v: ModelVersion): string {
  const first = scalarMetrics((v.metrics ?? {}) as Record<string, unknown>)[0];
  return first ? `v${String(v.version)} (${first[0]} ${formatNumber(first[1])})` : `v${String(v.version)}`;
}

/**
 * What the deployment serves and how to change it: swap to another version of the same model,
 * let a canary version answer a share of the requests, then promote it or roll it back; and the
 * `curl` call that predicts. Each change answers the deployment as it now is (`onChange`); the
 * predictor follows once the new version is warm, which the live status shows.
 */
export function ServingPanel({
  d,
  signal,
  onChange,
}: {
  d: Deployment;
  signal: AbortSignal;
  onChange: (d: Deployment) => void;
}): ReactNode {
  const versions = useLoad(
    async (s) => {
      const served = await api.modelVersion(d.model_version, s);
      return api.modelVersions(served.model, s);
    },
    [d.model_version],
  );
  const [swapTo, setSwapTo] = useState("");
  const [canaryTo, setCanaryTo] = useState("");
  const [percent, setPercent] = useState(10);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const curl = useRef<HTMLElement>(null);
  const live = d.status !== "UNDEPLOYED";

  async function act(change: () => Promise<Deployment>): Promise<void> {
    setBusy(true);
    setError(undefined);
    try {
      onChange(await change());
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  const others: Array<[string, string]> = (versions.data ?? [])
    .filter((v) => v.id !== d.model_version && v.id !== d.canary_version)
    .sort((a, b) => b.version - a.version)
    .map((v) => [String(v.id), optionText(v)]);

  return (
    <section className="card" id="serving-panel" aria-labelledby="serving-heading">
      <h2 id="serving-heading">Versions and traffic</h2>
      <p id="serving-now">
        {`v${String(d.version)} answers ${d.canary_version ? `${String(100 - (d.canary_percent ?? 0))}%` : "every request"}`}
        {d.canary_version ? `; canary v${String(d.canary_version_number)} answers ${String(d.canary_percent)}%.` : "."}
      </p>
      <ErrorMessage error={error ?? versions.error} />
      {live && d.canary_version && (
        <div className="actions">
          <Button id="canary-promote" isDisabled={busy} onPress={() => void act(() => api.promoteCanary(d.name, signal))}>
            {`Promote v${String(d.canary_version_number)}`}
          </Button>
          <Button
            id="canary-rollback"
            className="secondary"
            isDisabled={busy}
            onPress={() => void act(() => api.rollbackCanary(d.name, signal))}
          >
            Roll back the canary
          </Button>
        </div>
      )}
      {live && versions.state === "ready" && !others.length && (
        <p className="muted">No other version of this model to serve: train again to get one.</p>
      )}
      {live && others.length > 0 && (
        <div className="serving-forms">
          <div className="inline-form" id="swap-form">
            <Choice id="swap-version" label="Serve another version" value={swapTo || others[0]![0]} options={others} onChange={setSwapTo} />
            <Button
              id="swap-button"
              isDisabled={busy}
              onPress={() => void act(() => api.swapDeployment(d.name, swapTo || others[0]![0], signal))}
            >
              Swap
            </Button>
          </div>
          {!d.canary_version && (
            <div className="inline-form" id="canary-form">
              <Choice id="canary-version" label="Canary version" value={canaryTo || others[0]![0]} options={others} onChange={setCanaryTo} />
              <NumberField minValue={1} maxValue={99} step={1} value={percent} onChange={setPercent}>
                <Label>Share of requests (%)</Label>
                <Input id="canary-percent" />
              </NumberField>
              <Button
                id="canary-button"
                isDisabled={busy || !(percent >= 1 && percent <= 99)}
                onPress={() => void act(() => api.setCanary(d.name, canaryTo || others[0]![0], percent, signal))}
              >
                Start canary
              </Button>
            </div>
          )}
        </div>
      )}
      {d.curl_example && (
        <>
          <h3>Call it from a shell</h3>
          <p className="hint">
            With an API token or a deployment key in <code>TOKEN</code>:
          </p>
          <pre className="curl">
            <code id="deployment-curl" ref={curl}>
              {d.curl_example}
            </code>
          </pre>
          <CopyButton id="curl-copy" text={d.curl_example} shown={curl} />
        </>
      )}
    </section>
  );
}
