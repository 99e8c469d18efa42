import type { ReactNode } from "react";
import { api, type Comparison, type DiffRow } from "../api";
import { formatNumber } from "../dom";
import { DataTable, ErrorMessage, MessageRow } from "../ui/common";
import { reactView, type PageProps } from "../ui/page";
import { useLoad } from "../ui/useLoad";
import "./registry.css";

function DiffTable({ id, rows, c }: { id: string; rows: DiffRow[]; c: Comparison }): ReactNode {
  return (
    <DataTable id={id} headers={["", `v${c.a.version}`, `v${c.b.version}`, "Difference"]}>
      {rows.length ? (
        rows.map((r) => (
          <tr key={r.name} className={r.same ? "" : "changed"} data-name={r.name}>
            <th>{r.name}</th>
            <td className="num">{formatNumber(r.a)}</td>
            <td className="num">{formatNumber(r.b)}</td>
            <td className="num">
              {r.delta !== undefined && r.delta !== null
                ? `${r.delta > 0 ? "+" : ""}${formatNumber(r.delta)}`
                : r.same
                  ? "same"
                  : "differs"}
            </td>
          </tr>
        ))
      ) : (
        <MessageRow colSpan={4} text="None recorded." />
      )}
    </DataTable>
  );
}

/** What differs between two versions' signatures, in words. */
export function signatureChanges(c: Comparison): string[] {
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
  return changes;
}

/** Two versions side by side: test metrics, hyperparameters and signature. */
export function ComparePage({ ctx }: PageProps): ReactNode {
  const a = ctx.params.a!;
  const b = ctx.params.b!;
  const loaded = useLoad((signal) => api.compare(a, b, signal), [a, b]);
  const c = loaded.data;
  const changes = c ? signatureChanges(c) : [];
  return (
    <>
      <p className="crumbs">
        <a href={`#/versions/${encodeURIComponent(a)}`}>← Version</a>
      </p>
      <ErrorMessage error={loaded.error} />
      {loaded.state === "loading" && <p className="muted">Loading…</p>}
      {c && (
        <>
          <h1 id="compare-title">
            <a href={`#/versions/${encodeURIComponent(String(c.a.id))}`}>{`${c.a.model_name} v${c.a.version}`}</a>
            {" vs "}
            <a href={`#/versions/${encodeURIComponent(String(c.b.id))}`}>{`${c.b.model_name} v${c.b.version}`}</a>
          </h1>
          <h2>Test metrics</h2>
          <DiffTable id="compare-metrics" rows={c.metrics} c={c} />
          <h2>Hyperparameters</h2>
          <DiffTable id="compare-hyperparameters" rows={c.hyperparameters} c={c} />
          <h2>Signature</h2>
          <ul id="compare-signature">
            {changes.length ? (
              changes.map((t) => <li key={t}>{t}</li>)
            ) : (
              <li>Same inputs, target and classes.</li>
            )}
          </ul>
        </>
      )}
    </>
  );
}

export const compareView = reactView(ComparePage);
