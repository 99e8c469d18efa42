import { api, isNotFound, type AuditEvent, type ModelVersion, type RegisteredModel } from "../api";
import { errorSlot, facts, formatBytes, formatDate, formatNumber, h, messageRow, table } from "../dom";
import { navigate, type ViewContext } from "../router";
import { deployControl } from "./deployAsk";
import { renderMarkdown } from "./markdown";
import { detailTables, scalarTable } from "./metrics";

const CAN_EDIT = new Set(["owner", "editor", "admin"]);

function metricsTable(v: ModelVersion, signal: AbortSignal): HTMLElement {
  const all = (v.metrics ?? {}) as Record<string, unknown>;
  return h("div", null, scalarTable(all, "version-metrics", "No test metrics recorded."), detailTables(all, signal));
}

function signatureTables(v: ModelVersion): HTMLElement {
  const inputs = v.input_signature?.inputs ?? v.input_schema ?? [];
  const output = v.output_signature;
  const seen = (i: (typeof inputs)[number]): string => {
    const rec = i as unknown as Record<string, unknown>;
    if (Array.isArray(rec.values)) return (rec.values as unknown[]).map(String).join(", ");
    if (Array.isArray(rec.range)) return `${formatNumber(rec.range[0])} … ${formatNumber(rec.range[1])}`;
    if (rec.type === "image") return `${String(rec.width)}×${String(rec.height)}, ${String(rec.channels)} channel(s)`;
    return "";
  };
  return h(
    "div",
    null,
    table({ id: "version-inputs" }, ["Input", "Type", "Seen in training"],
      h("tbody", null, inputs.map((i) => h("tr", null, h("td", null, i.name), h("td", null, i.type), h("td", { class: "compact" }, seen(i)))))),
    h("p", { id: "version-output" }, "Output: ", h("code", null, output?.target ?? v.target),
      (output?.classes ?? v.classes) ? ` — classes in order: ${(output?.classes ?? v.classes ?? []).map(String).join(", ")}` : " — a number"),
    v.input_signature?.example
      ? h("details", null, h("summary", null, "Example instance"), h("pre", { id: "version-example" }, JSON.stringify({ instances: [v.input_signature.example] }, null, 2)))
      : "",
  );
}

function auditTable(events: AuditEvent[]): HTMLTableElement {
  return table({ id: "version-audit" }, ["When", "Who", "What", "Subject", "From", "To"],
    h("tbody", null, events.length
      ? events.map((e) => h("tr", { "data-testid": "audit-row" },
          h("td", null, formatDate(e.created_at)), h("td", null, e.actor), h("td", null, e.action.replace(/_/g, " ")),
          h("td", null, e.subject), h("td", null, e.from_value || "—"), h("td", null, e.to_value || "—")))
      : messageRow(6, "Nothing has changed yet.")));
}

export async function versionView(root: HTMLElement, { params, signal }: ViewContext): Promise<void> {
  const id = params.id!;
  const errors = errorSlot();
  root.append(h("p", { class: "crumbs" }, h("a", { href: "#/models" }, "← Models")), errors.el);
  let v: ModelVersion;
  let model: RegisteredModel;
  try {
    v = await api.modelVersion(id, signal);
    model = await api.model(v.model, signal);
  } catch (err) {
    if (isNotFound(err)) throw err; // the router's not-found page
    errors.show(err);
    return;
  }
  const canEdit = CAN_EDIT.has(model.role ?? "");
  const siblings = [...(model.versions ?? [])].sort((a, b) => b.version - a.version);
  const aliasesEl = h("span", { id: "version-aliases" });
  const auditBox = h("div", null, h("p", { class: "muted" }, "Loading…"));
  const actionErrors = errorSlot();

  function renderAliases(names: string[]): void {
    aliasesEl.replaceChildren(...names.map((n) => h("span", { class: "status alias", "data-alias": n }, n)));
  }
  renderAliases(v.aliases ?? []);

  async function loadAudit(): Promise<void> {
    try {
      auditBox.replaceChildren(auditTable(await api.modelAudit(model.id, signal)));
    } catch (err) {
      actionErrors.show(err);
    }
  }

  // Alias: an editor points a name (production, staging…) at this version.
  const aliasInput = h("input", { type: "text", id: "alias-name", placeholder: "production", "aria-label": "Alias", list: "alias-names" });
  const aliasForm = h("form", { id: "alias-form", class: "inline" },
    aliasInput,
    h("datalist", { id: "alias-names" }, ["production", "staging", "champion", ...(model.aliases ?? []).map((a) => a.name)].map((n) => h("option", { value: n }))),
    h("button", { type: "submit", id: "alias-submit" }, "Point alias here"));
  aliasForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    actionErrors.clear();
    try {
      const alias = await api.moveAlias(model.id, aliasInput.value.trim(), v.id, signal);
      v = await api.modelVersion(v.id, signal);
      renderAliases(v.aliases ?? [alias.name]);
      aliasInput.value = "";
      await loadAudit();
    } catch (err) {
      actionErrors.show(err);
    }
  });

  const archiveButton = h("button", { type: "button", id: "archive-button", class: "secondary" }, v.archived_at ? "Restore" : "Archive");
  archiveButton.addEventListener("click", async () => {
    actionErrors.clear();
    try {
      v = await api.archiveVersion(v.id, !v.archived_at, signal);
      archiveButton.textContent = v.archived_at ? "Restore" : "Archive";
      archivedNote.replaceChildren(v.archived_at ? h("span", { class: "status", "data-status": "CANCELLED" }, "archived") : "");
      await loadAudit();
    } catch (err) {
      actionErrors.show(err);
    }
  });
  const archivedNote = h("span", { id: "version-archived" }, v.archived_at ? h("span", { class: "status", "data-status": "CANCELLED" }, "archived") : "");

  const deploy = deployControl(v.id, "Deploy", "version-deploy", actionErrors, signal);

  const compareSelect = h("select", { id: "compare-with", "aria-label": "Compare with" },
    siblings.filter((s) => s.id !== v.id).map((s) => h("option", { value: String(s.id) }, `v${s.version}`)));
  const compareButton = h("button", { type: "button", id: "compare-button", class: "secondary", disabled: siblings.length < 2 }, "Compare");
  compareButton.addEventListener("click", () => {
    if (compareSelect.value) navigate(`#/compare/${encodeURIComponent(String(v.id))}/${encodeURIComponent(compareSelect.value)}`);
  });

  // The model card: generated from the record until someone edits it.
  const cardBox = h("div", { id: "model-card" });
  const cardEditor = h("textarea", { id: "card-editor", rows: 16, "aria-label": "Model card (markdown)" });
  const cardSave = h("button", { type: "button", id: "card-save" }, "Save card");
  const cardEdit = h("details", { id: "card-edit" }, h("summary", null, "Edit card"), cardEditor, h("div", { class: "actions" }, cardSave));
  const cardState = h("span", { id: "card-state", class: "hint" });
  async function loadCard(): Promise<void> {
    const card = await api.modelCard(v.id, signal);
    cardBox.replaceChildren(renderMarkdown(card.markdown));
    cardEditor.value = card.markdown;
    cardState.textContent = card.edited ? "edited" : "generated";
  }
  cardSave.addEventListener("click", async () => {
    actionErrors.clear();
    try {
      await api.saveModelCard(v.id, cardEditor.value, signal);
      await loadCard();
      (cardEdit as HTMLDetailsElement).open = false;
      await loadAudit();
    } catch (err) {
      actionErrors.show(err);
    }
  });

  // The registered model's description and tags: shown to all, edited by editors.
  const describeBox = h("div", { id: "model-about" });
  function renderAbout(m: RegisteredModel): void {
    const shown = [
      m.description ? h("p", { id: "model-description" }, m.description) : "",
      m.tags?.length ? h("p", { id: "model-tags" }, ...m.tags.map((t) => [h("span", { class: "status alias" }, t), " "])) : "",
    ];
    if (!canEdit) {
      describeBox.replaceChildren(...shown);
      return;
    }
    const description = h("textarea", { id: "model-description-input", rows: 2, "aria-label": "Description" });
    description.value = m.description ?? "";
    const tags = h("input", { type: "text", id: "model-tags-input", "aria-label": "Tags (comma-separated)", value: (m.tags ?? []).join(", ") });
    const save = h("button", { type: "submit", id: "model-about-save" }, "Save");
    const form = h("form", null, h("label", null, "Description", description), h("label", null, "Tags (comma-separated)", tags), save);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      actionErrors.clear();
      try {
        model = await api.updateModel(m.id, {
          description: description.value,
          tags: tags.value.split(",").map((t) => t.trim()).filter(Boolean),
        }, signal);
        renderAbout(model);
        await loadAudit();
      } catch (err) {
        actionErrors.show(err);
      }
    });
    describeBox.replaceChildren(...shown, h("details", { id: "model-about-edit" }, h("summary", null, "Edit description and tags"), form));
  }
  renderAbout(model);

  root.append(
    h("h1", null, h("span", { id: "version-title" }, `${v.model_name} v${v.version}`), aliasesEl, archivedNote),
    describeBox,
    facts([
      ["Task", `${v.task_type}, predicting “${v.target}”`],
      ["Created", `${formatDate(v.created_at)}${v.created_by ? ` by ${v.created_by}` : ""}`],
      ["Job", v.job !== null && v.job !== undefined ? h("a", { href: `#/jobs/${encodeURIComponent(String(v.job))}` }, `#${String(v.job)}`) : "—"],
      ["Dataset", v.dataset !== null && v.dataset !== undefined ? h("a", { href: `#/datasets/${encodeURIComponent(String(v.dataset))}` }, `#${String(v.dataset)}`) : "—"],
      ["Artifact", h("span", null, h("a", { id: "version-download", href: api.artifactUrl(v.id) }, "Download .keras"), " · ", h("a", { id: "version-onnx", href: api.onnxUrl(v.id), title: "Built on first request and checked against the .keras model; may take a few seconds" }, "Export ONNX"), ` ${formatBytes(v.artifact_size ?? null)} · sha256 `, h("code", null, (v.artifact_sha256 ?? "").slice(0, 16)), "…")],
      ["Your role", model.role ?? "—"],
    ], { id: "version-facts" }),
    h("div", { class: "actions" }, deploy.button, canEdit ? archiveButton : "", compareSelect, compareButton),
    deploy.ask,
    canEdit ? aliasForm : "",
    actionErrors.el,
    h("h2", null, "Test metrics"),
    metricsTable(v, signal),
    h("h2", null, "Signature"),
    signatureTables(v),
    h("h2", null, "Hyperparameters"),
    h("table", { id: "version-hyperparameters", class: "narrow" },
      h("tbody", null, Object.entries(v.hyperparameters ?? {}).map(([k, value]) => h("tr", null, h("th", null, k), h("td", { class: "num" }, formatNumber(value)))))),
    h("h2", null, "Model card ", cardState),
    cardBox,
    canEdit ? cardEdit : "",
    h("h2", null, "History"),
    auditBox,
  );
  try {
    await Promise.all([loadCard(), loadAudit()]);
  } catch (err) {
    errors.show(err);
  }
}
