import { api, type Comparison, type DiffRow } from "../api";
import { errorSlot, formatNumber, h, messageRow, table } from "../dom";
import type { ViewContext } from "../router";

function diffTable(id: string, rows: DiffRow[], c: Comparison): HTMLTableElement {
  return table({ id }, ["", `v${c.a.version}`, `v${c.b.version}`, "Difference"],
    h("tbody", null, rows.length
      ? rows.map((r) => h("tr", { class: r.same ? "" : "changed", "data-name": r.name },
          h("th", null, r.name),
          h("td", { class: "num" }, formatNumber(r.a)),
          h("td", { class: "num" }, formatNumber(r.b)),
          h("td", { class: "num" }, r.delta !== undefined ? `${r.delta > 0 ? "+" : ""}${formatNumber(r.delta)}` : r.same ? "same" : "differs")))
      : messageRow(4, "None recorded.")));
}

export async function compareView(root: HTMLElement, { params, signal }: ViewContext): Promise<void> {
  const errors = errorSlot();
  root.append(h("p", { class: "crumbs" }, h("a", { href: `#/versions/${encodeURIComponent(params.a!)}` }, "← Version")), errors.el);
  let c: Comparison;
  try {
    c = await api.compare(params.a!, params.b!, signal);
  } catch (err) {
    errors.show(err);
    return;
  }
  const sig = c.signature;
  const changes: string[] = [
    ...sig.inputs_only_in_a.map((n) => `input “${n}” only in v${c.a.version}`),
    ...sig.inputs_only_in_b.map((n) => `input “${n}” only in v${c.b.version}`),
    ...sig.inputs_changed.map((i) => `input “${i.name}” changed: ${JSON.stringify(i.a)} → ${JSON.stringify(i.b)}`),
  ];
  if (!sig.target.same) changes.push(`target: ${sig.target.a} → ${sig.target.b}`);
  if (!sig.task_type.same) changes.push(`task: ${sig.task_type.a} → ${sig.task_type.b}`);
  if (!sig.classes.same) changes.push(`classes: ${JSON.stringify(sig.classes.a)} → ${JSON.stringify(sig.classes.b)}`);
  if (!c.dataset.same) changes.push(`trained on dataset #${String(c.dataset.a)} vs #${String(c.dataset.b)}`);
  root.append(
    h("h1", { id: "compare-title" },
      h("a", { href: `#/versions/${encodeURIComponent(String(c.a.id))}` }, `${c.a.model_name} v${c.a.version}`),
      " vs ",
      h("a", { href: `#/versions/${encodeURIComponent(String(c.b.id))}` }, `${c.b.model_name} v${c.b.version}`)),
    h("h2", null, "Test metrics"),
    diffTable("compare-metrics", c.metrics, c),
    h("h2", null, "Hyperparameters"),
    diffTable("compare-hyperparameters", c.hyperparameters, c),
    h("h2", null, "Signature"),
    h("ul", { id: "compare-signature" }, changes.length ? changes.map((t) => h("li", null, t)) : h("li", null, "Same inputs, target and classes.")),
  );
}
