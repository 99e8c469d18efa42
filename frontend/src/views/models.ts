import { api, type ModelVersion, type RegisteredModel } from "../api";
import { errorSlot, formatDate, formatPairs, h, messageRow, type ErrorSlot } from "../dom";
import { scalarMetrics } from "./metricsData";
import type { ViewContext } from "../router";
import { deployControl } from "./deployAsk";

const HEADERS = ["Model / version", "Task", "Metrics", "Job", "Created", ""];

/** The contract leaves `latest_version`'s shape open: accept a number, an id or a nested version. */
function latestLabel(latest: unknown): string {
  if (latest === null || latest === undefined) return "none";
  if (typeof latest === "object" && "version" in latest) return `v${String((latest as { version: unknown }).version)}`;
  return `v${String(latest)}`;
}

function versionRow(v: ModelVersion, errors: ErrorSlot, signal: AbortSignal): HTMLTableRowElement {
  const deploy = deployControl(v.id, "Deploy", `deploy-version-${String(v.id)}`, errors, signal);
  deploy.button.dataset.testid = "deploy-version";
  deploy.button.dataset.versionId = String(v.id);
  const job = v.job === null || v.job === undefined ? null : String(v.job);
  return h(
    "tr",
    { "data-testid": "version-row", "data-version": v.version },
    h("td", { class: "indent" },
      h("a", { href: `#/versions/${encodeURIComponent(String(v.id))}`, "data-testid": "version-link" }, `v${v.version}`),
      ...(v.aliases ?? []).map((n) => [" ", h("span", { class: "status alias" }, n)]),
      v.archived_at ? [" ", h("span", { class: "status", "data-status": "CANCELLED" }, "archived")] : ""),
    h("td", null, v.task_type),
    h("td", { class: "compact" }, formatPairs(Object.fromEntries(scalarMetrics(v.metrics)))),
    h("td", null, job ? h("a", { href: `#/jobs/${encodeURIComponent(job)}` }, `#${job}`) : "—"),
    h("td", null, formatDate(v.created_at)),
    h("td", null, deploy.button, deploy.ask),
  );
}

function modelGroup(m: RegisteredModel, errors: ErrorSlot, signal: AbortSignal): HTMLTableSectionElement {
  const versions = [...(m.versions ?? [])].sort((a, b) => b.version - a.version);
  return h(
    "tbody",
    { class: "model-group" },
    h(
      "tr",
      { "data-testid": "model-row", class: "group" },
      h("th", { colspan: HEADERS.length, scope: "rowgroup" },
        h("span", { class: "model-name" }, m.name),
        h("span", { class: "hint" }, ` · ${m.task_type} · latest ${latestLabel(m.latest_version)}`),
        m.tags?.length ? h("span", { class: "hint" }, ` · ${m.tags.join(", ")}`) : "",
      ),
    ),
    versions.length
      ? versions.map((v) => versionRow(v, errors, signal))
      : messageRow(HEADERS.length, "No versions."),
  );
}

export async function modelsView(root: HTMLElement, { signal }: ViewContext): Promise<void> {
  const errors = errorSlot();
  const modelsTable = h(
    "table",
    { id: "models-table" },
    h("thead", null, h("tr", null, HEADERS.map((t) => h("th", null, t)))),
    h("tbody", null, messageRow(HEADERS.length, "Loading…")),
  );
  root.append(h("h1", null, "Models"), errors.el, modelsTable);

  try {
    const list = await api.models(signal);
    // The list has no versions; each model's detail does.
    const models = await Promise.all(list.map((m) => api.model(m.id, signal)));
    modelsTable.querySelectorAll("tbody").forEach((b) => b.remove());
    if (models.length === 0) {
      modelsTable.append(
        h("tbody", null, messageRow(HEADERS.length, "No models yet. A successful job registers one.")),
      );
    }
    for (const m of models) modelsTable.append(modelGroup(m, errors, signal));
  } catch (err) {
    errors.show(err);
  }
}
