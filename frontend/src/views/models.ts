import { api, type ModelVersion, type RegisteredModel } from "../api";
import { errorSlot, formatDate, formatPairs, h, messageRow, type ErrorSlot } from "../dom";
import { navigate, type ViewContext } from "../router";

const HEADERS = ["Model / version", "Task", "Metrics", "Job", "Created", ""];

/** The contract leaves `latest_version`'s shape open: accept a number, an id or a nested version. */
function latestLabel(latest: unknown): string {
  if (latest === null || latest === undefined) return "none";
  if (typeof latest === "object" && "version" in latest) return `v${String((latest as { version: unknown }).version)}`;
  return `v${String(latest)}`;
}

function versionRow(v: ModelVersion, errors: ErrorSlot, signal: AbortSignal): HTMLTableRowElement {
  const button = h("button", { type: "button", "data-testid": "deploy-version", "data-version-id": String(v.id) }, "Deploy");
  button.addEventListener("click", async () => {
    button.disabled = true;
    errors.clear();
    try {
      const dep = await api.deploy(v.id, signal);
      navigate(`#/deployments/${encodeURIComponent(dep.name)}`);
    } catch (err) {
      errors.show(err);
      button.disabled = false;
    }
  });
  const job = v.job === null || v.job === undefined ? null : String(v.job);
  return h(
    "tr",
    { "data-testid": "version-row", "data-version": v.version },
    h("td", { class: "indent" }, `v${v.version}`),
    h("td", null, v.task_type),
    h("td", { class: "compact" }, formatPairs(v.metrics)),
    h("td", null, job ? h("a", { href: `#/jobs/${encodeURIComponent(job)}` }, `#${job}`) : "—"),
    h("td", null, formatDate(v.created_at)),
    h("td", null, button),
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
