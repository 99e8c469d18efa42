import { api, type DeploymentKey, type DeploymentTraffic, type TrafficBreakdown, type TrafficStats } from "../api";
import { errorSlot, facts, formatDate, h, messageRow, table } from "../dom";
import { trafficCharts } from "./trafficCharts";

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
  const low = i === 0 ? 1 : bounds[i - 1] + 1;
  const high = bounds[i];
  return low === high ? `${high} row${high === 1 ? "" : "s"}` : `${low}–${high} rows`;
}

const SVG_NS = "http://www.w3.org/2000/svg";
const BAR_HEIGHT = 24;

/** A bar `share` of the full height, in SVG (the page's CSP refuses inline styles). */
function bar(share: number): SVGSVGElement {
  const height = Math.max(2, Math.round(share * BAR_HEIGHT));
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("class", "batch-bar");
  svg.setAttribute("width", "24");
  svg.setAttribute("height", String(BAR_HEIGHT));
  svg.setAttribute("aria-hidden", "true");
  const rect = document.createElementNS(SVG_NS, "rect");
  for (const [k, v] of Object.entries({ x: 0, y: BAR_HEIGHT - height, width: 24, height })) rect.setAttribute(k, String(v));
  svg.append(rect);
  return svg;
}

/** Model calls by rows: one bar per bucket that has any, its label and count beneath. */
function batchSizes(bounds: number[], b: TrafficBreakdown): HTMLElement {
  const used = b.batch_rows_histogram.map((count, i) => [count, i] as const).filter(([count]) => count > 0);
  if (used.length === 0) return h("span", { id: "metrics-batches", class: "muted" }, "no model calls yet");
  const peak = Math.max(...used.map(([count]) => count));
  return h(
    "span",
    { id: "metrics-batches", class: "batch-sizes" },
    used.map(([count, i]) =>
      h(
        "span",
        { class: "batch-bucket", "data-testid": "metrics-batch-bucket", title: `${count} model call${count === 1 ? "" : "s"} of ${batchLabel(bounds, i)}` },
        bar(count / peak),
        `${batchLabel(bounds, i)}: ${count}`,
      ),
    ),
  );
}

function stageTimes(b: TrafficBreakdown): string {
  return STAGES.map((stage) => `${stage} ${ms(b.stage_ms_avg[stage])}`).join(" · ");
}

/** Requests, errors, latency percentiles and rows per request over the last hour, per version
 * when a canary runs; refreshed every few seconds while the page is open. */
export function metricsPanel(name: string, signal: AbortSignal): HTMLElement {
  const errors = errorSlot();
  const totals = h("div", null, h("p", { class: "muted" }, "Loading traffic…"));
  const tbody = h("tbody");
  const versions = table({ id: "metrics-versions" }, ["Version", "Requests", "4xx", "5xx", "Rows / request", "p50", "p95", "p99"], tbody);
  versions.hidden = true;
  const charts = trafficCharts(signal);
  const panel = h(
    "section",
    { id: "metrics-panel" },
    h("h2", null, "Traffic (last hour)"),
    errors.el,
    totals,
    versions,
    charts.el,
  );

  function render(t: DeploymentTraffic): void {
    const s = t.totals;
    totals.replaceChildren(
      facts([
        ["Requests", h("span", { id: "metrics-requests" }, String(s.requests))],
        ["Errors", h("span", { id: "metrics-errors" }, `${s.errors_4xx} client (4xx), ${s.errors_5xx} server (5xx)`)],
        ["Rows per request", rowsPerRequest(s)],
        ["Latency p50 / p95 / p99", `${ms(s.latency_ms_p50)} / ${ms(s.latency_ms_p95)} / ${ms(s.latency_ms_p99)}`],
        ["Time per request (mean)", h("span", { id: "metrics-stages" }, stageTimes(s))],
        [`Model calls by rows (${s.batches})`, batchSizes(t.batch_rows_bounds, s)],
      ]),
    );
    // One row per version that answered: the main one and, during a canary, the canary.
    tbody.replaceChildren(
      ...s.versions.map((v) =>
        h("tr", { "data-testid": "metrics-version" },
          h("td", null, `v${v.version_number}`),
          h("td", null, String(v.requests)),
          h("td", null, String(v.errors_4xx)),
          h("td", null, String(v.errors_5xx)),
          h("td", null, rowsPerRequest(v)),
          h("td", null, ms(v.latency_ms_p50)),
          h("td", null, ms(v.latency_ms_p95)),
          h("td", null, ms(v.latency_ms_p99)),
        ),
      ),
    );
    versions.hidden = s.versions.length === 0;
    charts.update(t);
  }

  let timer: ReturnType<typeof setTimeout> | undefined;
  signal.addEventListener("abort", () => clearTimeout(timer));
  async function refresh(): Promise<void> {
    try {
      render(await api.deploymentTraffic(name, METRICS_MINUTES, signal));
      errors.clear();
    } catch (err) {
      errors.show(err);
    }
    if (!signal.aborted) timer = setTimeout(refresh, METRICS_REFRESH_MS);
  }
  void refresh();
  return panel;
}

function keyState(k: DeploymentKey): string {
  if (k.revoked_at) return "revoked";
  return k.active ? "active" : "expired";
}

/** The deployment's API keys: made here (the key shown once, with a copy button), listed by
 * prefix with their dates, and revoked. Only the deployer manages them. */
export function keysPanel(name: string, mine: boolean, signal: AbortSignal): HTMLElement {
  if (!mine) {
    // A teammate's deployment: its keys are its deployer's to manage (the API would 404).
    return h("section", { id: "keys-panel" }, h("h2", null, "API keys"), h("p", { class: "muted" }, "Only the deployer manages this deployment's keys."));
  }
  const errors = errorSlot();
  const tbody = h("tbody", null, messageRow(8, "Loading…"));
  const keyName = h("input", { id: "key-name", name: "name", maxlength: 100, placeholder: "my-app" });
  const rate = h("input", { id: "key-rate", name: "rate", type: "number", min: 1, placeholder: "no limit" });
  const expires = h("input", { id: "key-expires", name: "expires", type: "date" });
  const secret = h("div", { id: "key-secret" });
  const form = h(
    "form",
    { id: "key-form", class: "inline-form" },
    h("label", null, "Name ", keyName),
    h("label", null, "Requests per minute (optional) ", rate),
    h("label", null, "Expires (optional) ", expires),
    h("button", { type: "submit" }, "Create key"),
  );
  const panel = h(
    "section",
    { id: "keys-panel" },
    h("h2", null, "API keys"),
    h("p", { class: "hint" }, "A key calls this deployment only: send it as ", h("code", null, "Authorization: Bearer <key>"), "."),
    errors.el,
    form,
    secret,
    table({ id: "keys-table" }, ["Name", "Key", "Rate limit", "Created", "Expires", "Last used", "State", ""], tbody),
  );

  async function load(): Promise<void> {
    try {
      const keys = await api.deploymentKeys(name, signal);
      tbody.replaceChildren(...(keys.length ? keys.map(row) : [messageRow(8, "No keys yet.")]));
    } catch (err) {
      errors.show(err);
    }
  }

  function row(k: DeploymentKey): HTMLTableRowElement {
    const revoke = h("button", { type: "button", class: "secondary", "data-testid": "revoke-key" }, "Revoke");
    revoke.addEventListener("click", async () => {
      if (!confirm(`Revoke the key “${k.name || k.prefix}”? Clients using it stop within a second.`)) return;
      revoke.disabled = true;
      try {
        await api.revokeDeploymentKey(name, k.id, signal);
        errors.clear();
        await load();
      } catch (err) {
        revoke.disabled = false;
        errors.show(err);
      }
    });
    const state = keyState(k);
    return h(
      "tr",
      { "data-testid": "key-row", "data-name": k.name, "data-state": state },
      h("td", null, k.name || "—"),
      h("td", null, h("code", null, `${k.prefix}…`)),
      h("td", null, k.rate_limit_per_minute ? `${k.rate_limit_per_minute}/min` : "none"),
      h("td", null, formatDate(k.created_at)),
      h("td", null, formatDate(k.expires_at)),
      h("td", null, formatDate(k.last_used_at)),
      h("td", { "data-testid": "key-state" }, state),
      h("td", null, state === "active" ? revoke : ""),
    );
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const perMinute = rate.value ? Number(rate.value) : null;
    const expiresAt = expires.value ? new Date(`${expires.value}T23:59:59`).toISOString() : null;
    try {
      const made = await api.createDeploymentKey(name, { name: keyName.value, expires_at: expiresAt, rate_limit_per_minute: perMinute }, signal);
      errors.clear();
      form.reset();
      const value = h("code", { id: "key-value" }, made.key);
      const copy = h("button", { type: "button", id: "key-copy", class: "secondary" }, "Copy");
      copy.addEventListener("click", async () => {
        try {
          await navigator.clipboard.writeText(made.key);
          copy.textContent = "Copied";
        } catch {
          // No clipboard (an insecure origin, or refused): select it for a manual copy.
          getSelection()?.selectAllChildren(value);
          copy.textContent = "Selected: copy it";
        }
      });
      secret.replaceChildren(
        h("p", null, `Key "${made.name || made.prefix}": copy it now, it will not be shown again.`),
        h("pre", null, value),
        copy,
      );
      await load();
    } catch (err) {
      errors.show(err);
    }
  });

  void load();
  return panel;
}
