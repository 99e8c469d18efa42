import { useEffect, useRef, useState, type FormEvent, type ReactNode } from "react";
import { Button, Input, Label, NumberField, TextField } from "react-aria-components";
import { api, type DeploymentKey, type DeploymentTraffic, type NewDeploymentKey, type TrafficBreakdown, type TrafficStats } from "../api";
import { formatDate } from "../dom";
import { DataTable, ErrorMessage, Facts, MessageRow } from "../ui/common";
import { ConfirmButton } from "../ui/deploysConfirm";
import { CopyButton } from "../ui/CopyButton";
import { DomMount } from "../ui/DomMount";
import { useLoad } from "../ui/useLoad";
import { trafficCharts, type TrafficCharts as Charts } from "./trafficCharts";

// The traffic API sums the predictor replicas' minutes, which they write every few seconds.
const METRICS_REFRESH_MS = 5000;
const METRICS_MINUTES = 60;

const ms = (v: number | null): string => (v === null ? "—" : `${v.toFixed(v < 10 ? 2 : 0)} ms`);

function rowsPerRequest(s: TrafficStats): string {
  const ok = s.requests - s.errors_4xx - s.errors_5xx;
  return ok > 0 ? (s.rows / ok).toFixed(1) : "—";
}

const STAGES = ["parse", "queue", "inference", "serialise"] as const;

/** What a batch-size bucket holds: its bound and the one before, "3–4 rows", "over 1024". */
function batchLabel(bounds: number[], i: number): string {
  if (i >= bounds.length) return `over ${bounds[bounds.length - 1]} rows`;
  const low = i === 0 ? 1 : bounds[i - 1]! + 1;
  const high = bounds[i]!;
  return low === high ? `${high} row${high === 1 ? "" : "s"}` : `${low}–${high} rows`;
}

const BAR_HEIGHT = 24;

/** A bar `share` of the full height, in SVG (the page's CSP refuses inline styles). */
function Bar({ share }: { share: number }): ReactNode {
  const height = Math.max(2, Math.round(share * BAR_HEIGHT));
  return (
    <svg className="batch-bar" width="24" height={BAR_HEIGHT} aria-hidden="true">
      <rect x={0} y={BAR_HEIGHT - height} width={24} height={height} />
    </svg>
  );
}

/** Model calls by rows: one bar per bucket that has any, its label and count beneath. */
function BatchSizes({ bounds, b }: { bounds: number[]; b: TrafficBreakdown }): ReactNode {
  const used = b.batch_rows_histogram.map((count, i) => [count, i] as const).filter(([count]) => count > 0);
  if (used.length === 0) {
    return (
      <span id="metrics-batches" className="muted">
        no model calls yet
      </span>
    );
  }
  const peak = Math.max(...used.map(([count]) => count));
  return (
    <span id="metrics-batches" className="batch-sizes">
      {used.map(([count, i]) => (
        <span
          key={i}
          className="batch-bucket"
          data-testid="metrics-batch-bucket"
          title={`${count} model call${count === 1 ? "" : "s"} of ${batchLabel(bounds, i)}`}
        >
          <Bar share={count / peak} />
          {`${batchLabel(bounds, i)}: ${count}`}
        </span>
      ))}
    </span>
  );
}

function stageTimes(b: TrafficBreakdown): string {
  return STAGES.map((stage) => `${stage} ${ms(b.stage_ms_avg[stage])}`).join(" · ");
}

/** The latency and requests charts (uPlot, drawn imperatively), redrawn with each refresh. */
function TrafficChartsView({ traffic }: { traffic: DeploymentTraffic | null }): ReactNode {
  const charts = useRef<Charts | null>(null);
  const latest = useRef(traffic);
  latest.current = traffic;
  useEffect(() => {
    if (traffic) charts.current?.update(traffic);
  }, [traffic]);
  return (
    <DomMount
      deps={[]}
      build={(host, signal) => {
        const made = trafficCharts(signal);
        host.append(made.el);
        charts.current = made;
        if (latest.current) made.update(latest.current);
        return () => {
          charts.current = null;
        };
      }}
    />
  );
}

/** Requests, errors, latency percentiles and rows per request over the last hour, per version
 * when a canary runs; refreshed every few seconds while the page is open. */
export function MetricsPanel({ name }: { name: string }): ReactNode {
  const [traffic, setTraffic] = useState<DeploymentTraffic | null>(null);
  const [error, setError] = useState<unknown>(undefined);

  useEffect(() => {
    const controller = new AbortController();
    const { signal } = controller;
    let timer: ReturnType<typeof setTimeout> | undefined;
    async function refresh(): Promise<void> {
      try {
        const t = await api.deploymentTraffic(name, METRICS_MINUTES, signal);
        if (signal.aborted) return;
        setTraffic(t);
        setError(undefined);
      } catch (err) {
        if (!signal.aborted) setError(err);
      }
      if (!signal.aborted) timer = setTimeout(() => void refresh(), METRICS_REFRESH_MS);
    }
    void refresh();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [name]);

  const s = traffic?.totals;
  return (
    <section id="metrics-panel">
      <h2>Traffic (last hour)</h2>
      <ErrorMessage error={error} />
      <div>
        {s && traffic ? (
          <Facts
            pairs={[
              ["Requests", <span id="metrics-requests">{String(s.requests)}</span>],
              ["Errors", <span id="metrics-errors">{`${s.errors_4xx} client (4xx), ${s.errors_5xx} server (5xx)`}</span>],
              ["Rows per request", rowsPerRequest(s)],
              ["Latency p50 / p95 / p99", `${ms(s.latency_ms_p50)} / ${ms(s.latency_ms_p95)} / ${ms(s.latency_ms_p99)}`],
              ["Time per request (mean)", <span id="metrics-stages">{stageTimes(s)}</span>],
              [`Model calls by rows (${s.batches})`, <BatchSizes bounds={traffic.batch_rows_bounds} b={s} />],
            ]}
          />
        ) : (
          <p className="muted">Loading traffic…</p>
        )}
      </div>
      {/* One row per version that answered: the main one and, during a canary, the canary. */}
      {s && s.versions.length > 0 && (
        <DataTable id="metrics-versions" headers={["Version", "Requests", "4xx", "5xx", "Rows / request", "p50", "p95", "p99"]}>
          {s.versions.map((v) => (
            <tr key={v.version_number} data-testid="metrics-version">
              <td>{`v${v.version_number}`}</td>
              <td>{String(v.requests)}</td>
              <td>{String(v.errors_4xx)}</td>
              <td>{String(v.errors_5xx)}</td>
              <td>{rowsPerRequest(v)}</td>
              <td>{ms(v.latency_ms_p50)}</td>
              <td>{ms(v.latency_ms_p95)}</td>
              <td>{ms(v.latency_ms_p99)}</td>
            </tr>
          ))}
        </DataTable>
      )}
      <TrafficChartsView traffic={traffic} />
    </section>
  );
}

function keyState(k: DeploymentKey): string {
  if (k.revoked_at) return "revoked";
  return k.active ? "active" : "expired";
}

function KeyRow({ k, onRevoke }: { k: DeploymentKey; onRevoke: () => Promise<void> }): ReactNode {
  const [busy, setBusy] = useState(false);
  const state = keyState(k);
  return (
    <tr data-testid="key-row" data-name={k.name} data-state={state}>
      <td>{k.name || "—"}</td>
      <td>
        <code>{`${k.prefix}…`}</code>
      </td>
      <td>{k.rate_limit_per_minute ? `${k.rate_limit_per_minute}/min` : "none"}</td>
      <td>{formatDate(k.created_at)}</td>
      <td>{formatDate(k.expires_at)}</td>
      <td>{formatDate(k.last_used_at)}</td>
      <td data-testid="key-state">{state}</td>
      <td>
        {state === "active" && (
          <ConfirmButton
            testId="revoke-key"
            isDisabled={busy}
            title="Revoke this key?"
            question={`Revoke the key “${k.name || k.prefix}”? Clients using it stop within a second.`}
            confirmLabel="Revoke key"
            onConfirm={() => {
              setBusy(true);
              // A failed revocation leaves the button, so it can be tried again.
              onRevoke().finally(() => setBusy(false));
            }}
          >
            Revoke
          </ConfirmButton>
        )}
      </td>
    </tr>
  );
}

/** The key just made, shown this once, with a button that copies it. */
function NewKey({ made }: { made: NewDeploymentKey }): ReactNode {
  const value = useRef<HTMLElement>(null);
  return (
    <>
      <p>{`Key "${made.name || made.prefix}": copy it now, it will not be shown again.`}</p>
      <pre>
        <code id="key-value" ref={value}>
          {made.key}
        </code>
      </pre>
      <CopyButton id="key-copy" text={made.key} shown={value} />
    </>
  );
}

/** The deployment's API keys: made here (the key shown once, with a copy button), listed by
 * prefix with their dates, and revoked. Only the deployer manages them. */
export function KeysPanel({ name, mine }: { name: string; mine: boolean }): ReactNode {
  if (!mine) {
    // A teammate's deployment: its keys are its deployer's to manage (the API would 404).
    return (
      <section id="keys-panel">
        <h2>API keys</h2>
        <p className="muted">Only the deployer manages this deployment&apos;s keys.</p>
      </section>
    );
  }
  return <OwnKeysPanel name={name} />;
}

function OwnKeysPanel({ name }: { name: string }): ReactNode {
  const keys = useLoad((signal) => api.deploymentKeys(name, signal), [name]);
  const [error, setError] = useState<unknown>(undefined);
  const [made, setMade] = useState<NewDeploymentKey | null>(null);
  const [keyName, setKeyName] = useState("");
  const [rate, setRate] = useState(Number.NaN);
  const [expires, setExpires] = useState("");
  const signal = useRef<AbortController | null>(null);

  useEffect(() => {
    const controller = new AbortController();
    signal.current = controller;
    return () => controller.abort();
  }, []);

  async function create(ev: FormEvent<HTMLFormElement>): Promise<void> {
    ev.preventDefault();
    const expiresAt = expires ? new Date(`${expires}T23:59:59`).toISOString() : null;
    const perMinute = Number.isNaN(rate) ? null : rate;
    try {
      const key = await api.createDeploymentKey(
        name,
        { name: keyName, expires_at: expiresAt, rate_limit_per_minute: perMinute },
        signal.current?.signal,
      );
      setError(undefined);
      setKeyName("");
      setRate(Number.NaN);
      setExpires("");
      setMade(key);
      keys.reload();
    } catch (err) {
      setError(err);
    }
  }

  async function revoke(k: DeploymentKey): Promise<void> {
    try {
      await api.revokeDeploymentKey(name, k.id, signal.current?.signal);
      setError(undefined);
      keys.reload();
    } catch (err) {
      setError(err);
    }
  }

  let rows: ReactNode;
  if (keys.state === "loading") rows = <MessageRow colSpan={8} text="Loading…" />;
  else if (keys.state === "failed") rows = <MessageRow colSpan={8} text="Could not load the keys." />;
  else if (!keys.data.length) rows = <MessageRow colSpan={8} text="No keys yet." />;
  else rows = keys.data.map((k) => <KeyRow key={k.id} k={k} onRevoke={() => revoke(k)} />);

  return (
    <section id="keys-panel">
      <h2>API keys</h2>
      <p className="hint">
        A key calls this deployment only: send it as <code>Authorization: Bearer &lt;key&gt;</code>.
      </p>
      <ErrorMessage error={error ?? keys.error} />
      <form id="key-form" className="inline-form" onSubmit={(ev) => void create(ev)}>
        <TextField name="name" maxLength={100} value={keyName} onChange={setKeyName}>
          <Label>Name</Label> <Input id="key-name" placeholder="my-app" />
        </TextField>
        <NumberField name="rate" minValue={1} step={1} value={rate} onChange={setRate}>
          <Label>Requests per minute (optional)</Label> <Input id="key-rate" placeholder="no limit" />
        </NumberField>
        <TextField name="expires" type="date" value={expires} onChange={setExpires}>
          <Label>Expires (optional)</Label> <Input id="key-expires" />
        </TextField>
        <Button type="submit">Create key</Button>
      </form>
      <div id="key-secret">{made && <NewKey made={made} />}</div>
      <DataTable id="keys-table" headers={["Name", "Key", "Rate limit", "Created", "Expires", "Last used", "State", ""]}>
        {rows}
      </DataTable>
    </section>
  );
}
