// Making a new version of a dataset (drop columns, change types, relabel) and its lineage.
import { api, type ColumnProfile, type ColumnType, type Dataset, type VersionRequest } from "../api";
import { COLUMN_TYPES } from "../types";
import { errorSlot, h, isAbort, statusBadge, table } from "../dom";
import { navigate } from "../router";
import { datasetHref } from "./uploadForm";

/** `old=new` lines → `{old: new}`; blank lines are skipped, anything else without `=` is an error. */
export function parseRelabel(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  text.split(/\r?\n/).forEach((line, i) => {
    if (!line.trim()) return;
    const eq = line.indexOf("=");
    if (eq < 0) throw new Error(`Line ${i + 1} of the relabelling needs the form old=new.`);
    const from = line.slice(0, eq).trim();
    if (!from) throw new Error(`Line ${i + 1} of the relabelling names no old value.`);
    out[from] = line.slice(eq + 1).trim();
  });
  return out;
}

export function versionForm(ds: Dataset, signal: AbortSignal): HTMLFormElement {
  const errors = errorSlot();
  const columns: ColumnProfile[] = ds.profile?.columns?.length ? ds.profile.columns : (ds.columns ?? []).map((c) => ({ ...c }));
  const drops = columns.map((c) => h("input", { type: "checkbox", "data-drop-column": c.name, "aria-label": `Drop ${c.name}` }));
  const types = columns.map((c) =>
    h(
      "select",
      { "data-type-column": c.name, "aria-label": `Type of ${c.name}` },
      h("option", { value: "" }, `keep (${c.type})`),
      COLUMN_TYPES.map((t) => h("option", { value: t }, t)),
    ),
  );
  columns.forEach((_, i) => {
    // A dropped column has no type to change.
    drops[i]!.addEventListener("change", () => {
      types[i]!.disabled = drops[i]!.checked;
    });
  });
  const relabelColumn = h(
    "select",
    { id: "version-relabel-column", name: "relabel_column" },
    h("option", { value: "" }, "— none —"),
    columns.map((c) => h("option", { value: c.name }, c.name)),
  );
  const relabel = h("textarea", { id: "version-relabel", name: "relabel", rows: 3, placeholder: "old=new, one per line" });
  const relabelHint = h("span", { class: "hint" });
  relabelColumn.addEventListener("change", () => {
    const col = columns.find((c) => c.name === relabelColumn.value);
    const top = Array.isArray(col?.top) ? col.top.slice(0, 8).map((t) => String(t.value)) : [];
    relabelHint.textContent = top.length ? `values: ${top.join(", ")}` : "";
  });
  const submit = h("button", { type: "submit", id: "version-submit" }, "Create version");

  const form = h(
    "form",
    { id: "version-form", class: "card" },
    h("h2", null, "New version"),
    h("p", { class: "hint" }, "This dataset stays as it is; the changes make a new version linked to it."),
    table(
      { class: "version-columns" },
      ["Column", "Drop", "Type"],
      h(
        "tbody",
        null,
        columns.map((c, i) => h("tr", null, h("td", { class: "col-name" }, c.name), h("td", null, drops[i]!), h("td", null, types[i]!))),
      ),
    ),
    h("label", null, "Relabel values of", relabelColumn, relabelHint),
    h("label", null, "Relabelling", relabel),
    h("div", { class: "actions" }, submit),
    errors.el,
  );

  function changes(): VersionRequest {
    const out: VersionRequest = {};
    const dropped = columns.filter((_, i) => drops[i]!.checked).map((c) => c.name);
    if (dropped.length) out.drop_columns = dropped;
    const retyped: Record<string, ColumnType> = {};
    columns.forEach((c, i) => {
      const t = types[i]!.value;
      if (t && !drops[i]!.checked && t !== c.type) retyped[c.name] = t as ColumnType;
    });
    if (Object.keys(retyped).length) out.column_types = retyped;
    const pairs = parseRelabel(relabel.value);
    if (Object.keys(pairs).length) {
      if (!relabelColumn.value) throw new Error("Choose the column whose values to relabel.");
      out.relabel_column = relabelColumn.value;
      out.relabel = pairs;
    }
    if (!out.drop_columns && !out.column_types && !out.relabel) {
      throw new Error("Choose at least one change: drop a column, change a type or relabel values.");
    }
    return out;
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    errors.clear();
    let body: VersionRequest;
    try {
      body = changes();
    } catch (err) {
      errors.show(err);
      return;
    }
    submit.disabled = true;
    try {
      const child = await api.createVersion(ds.id, body, signal);
      navigate(datasetHref(child.id));
    } catch (err) {
      errors.show(err);
      submit.disabled = false;
    }
  });
  return form;
}

/** Every version in this dataset's lineage, oldest first, this one marked. */
export function versionsList(ds: Dataset, signal: AbortSignal): HTMLElement {
  const errors = errorSlot();
  const list = h("ol", { id: "versions-list", class: "versions plain-list", "data-empty": "Loading…" });
  api.datasetVersions(ds.id, signal).then(
    (versions) => {
      const sorted = [...versions].sort((a, b) => (a.version ?? 0) - (b.version ?? 0) || String(a.created_at).localeCompare(String(b.created_at)));
      list.dataset.empty = "No other versions.";
      list.replaceChildren(
        ...sorted.map((v) => {
          const current = String(v.id) === String(ds.id);
          return h(
            "li",
            { "data-testid": "version-item", "data-id": String(v.id), class: current ? "current" : null },
            current
              ? h("strong", { "aria-current": "page" }, `v${v.version} · ${v.name}`)
              : h("a", { href: datasetHref(v.id) }, `v${v.version} · ${v.name}`),
            " ",
            statusBadge(v.status),
            v.parent !== null && v.parent !== undefined ? h("span", { class: "hint" }, ` from #${String(v.parent)}`) : "",
          );
        }),
      );
    },
    (err: unknown) => {
      if (isAbort(err)) return;
      list.dataset.empty = "";
      errors.show(err);
    },
  );
  return h("section", null, h("h2", null, "Versions"), list, errors.el);
}
