// Making a new version of a dataset (drop columns, change types, relabel) and its lineage.
import { useState, type FormEvent, type ReactNode } from "react";
import { Button, Label, TextArea, TextField } from "react-aria-components";
import { api, type ColumnProfile, type ColumnType, type Dataset, type DatasetListItem, type VersionRequest } from "../api";
import { COLUMN_TYPES } from "../types";
import { navigate } from "../router";
import { ErrorMessage, StatusBadge } from "../ui/common";
import { CheckField } from "../ui/CheckField";
import { Choice } from "../ui/Choice";
import { useLoad } from "../ui/useLoad";
import { datasetHref } from "./uploadForm";
import "./datasets.css";

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

export interface VersionChoices {
  dropped: Set<string>;
  types: Record<string, string>;
  relabelColumn: string;
  relabel: string;
}

/** The changes asked for, as the API takes them; throws what is missing or wrong. */
export function versionChanges(columns: ColumnProfile[], choices: VersionChoices): VersionRequest {
  const out: VersionRequest = {};
  const dropped = columns.filter((c) => choices.dropped.has(c.name)).map((c) => c.name);
  if (dropped.length) out.drop_columns = dropped;
  const retyped: Record<string, ColumnType> = {};
  for (const c of columns) {
    const t = choices.types[c.name] ?? "";
    if (t && !choices.dropped.has(c.name) && t !== c.type) retyped[c.name] = t as ColumnType;
  }
  if (Object.keys(retyped).length) out.column_types = retyped;
  const pairs = parseRelabel(choices.relabel);
  if (Object.keys(pairs).length) {
    if (!choices.relabelColumn) throw new Error("Choose the column whose values to relabel.");
    out.relabel_column = choices.relabelColumn;
    out.relabel = pairs;
  }
  if (!out.drop_columns && !out.column_types && !out.relabel) {
    throw new Error("Choose at least one change: drop a column, change a type or relabel values.");
  }
  return out;
}

export function VersionForm({ ds, signal }: { ds: Dataset; signal: AbortSignal }): ReactNode {
  const columns: ColumnProfile[] = ds.profile?.columns?.length ? ds.profile.columns : (ds.columns ?? []).map((c) => ({ ...c }));
  const [dropped, setDropped] = useState<Set<string>>(new Set());
  const [types, setTypes] = useState<Record<string, string>>({});
  const [relabelColumn, setRelabelColumn] = useState("");
  const [relabel, setRelabel] = useState("");
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);

  const col = columns.find((c) => c.name === relabelColumn);
  const top = Array.isArray(col?.top) ? col.top.slice(0, 8).map((t) => String(t.value)) : [];

  async function submit(ev: FormEvent<HTMLFormElement>): Promise<void> {
    ev.preventDefault();
    setError(undefined);
    let body: VersionRequest;
    try {
      body = versionChanges(columns, { dropped, types, relabelColumn, relabel });
    } catch (err) {
      setError(err);
      return;
    }
    setBusy(true);
    try {
      const child = await api.createVersion(ds.id, body, signal);
      navigate(datasetHref(child.id));
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  return (
    <form id="version-form" className="card" onSubmit={(ev) => void submit(ev)}>
      <h2>New version</h2>
      <p className="hint">This dataset stays as it is; the changes make a new version linked to it.</p>
      <div className="table-scroll" tabIndex={0} role="region" aria-label="Columns to change">
        <table className="version-columns">
          <thead>
            <tr>
              <th>Column</th>
              <th>Drop</th>
              <th>Type</th>
            </tr>
          </thead>
          <tbody>
            {columns.map((c) => (
              <tr key={c.name}>
                <td className="col-name">{c.name}</td>
                <td>
                  <CheckField
                    data-drop-column={c.name}
                    ariaLabel={`Drop ${c.name}`}
                    isSelected={dropped.has(c.name)}
                    onChange={(on) =>
                      setDropped((d) => {
                        const next = new Set(d);
                        if (on) next.add(c.name);
                        else next.delete(c.name);
                        return next;
                      })
                    }
                  />
                </td>
                <td>
                  <Choice
                    ariaLabel={`Type of ${c.name}`}
                    className="type-select"
                    options={[["", `keep (${c.type})`], ...COLUMN_TYPES.map((t): [string, string] => [t, t])]}
                    value={types[c.name] ?? ""}
                    // A dropped column has no type to change.
                    isDisabled={dropped.has(c.name)}
                    onChange={(t) => setTypes((all) => ({ ...all, [c.name]: t }))}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <Choice
        id="version-relabel-column"
        name="relabel_column"
        label="Relabel values of"
        options={[["", "— none —"], ...columns.map((c): [string, string] => [c.name, c.name])]}
        value={relabelColumn}
        onChange={setRelabelColumn}
        hint={<span className="hint">{top.length ? `values: ${top.join(", ")}` : ""}</span>}
      />
      <TextField name="relabel" value={relabel} onChange={setRelabel}>
        <Label>Relabelling</Label>
        <TextArea id="version-relabel" rows={3} placeholder="old=new, one per line" />
      </TextField>
      <div className="actions">
        <Button type="submit" id="version-submit" isDisabled={busy}>
          Create version
        </Button>
      </div>
      <ErrorMessage error={error} />
    </form>
  );
}

const byVersion = (a: DatasetListItem, b: DatasetListItem) =>
  (a.version ?? 0) - (b.version ?? 0) || String(a.created_at).localeCompare(String(b.created_at));

/** Every version in this dataset's lineage, oldest first, this one marked. */
export function VersionsList({ ds }: { ds: Dataset }): ReactNode {
  const versions = useLoad((signal) => api.datasetVersions(ds.id, signal), [ds.id]);
  const empty = versions.state === "loading" ? "Loading…" : versions.state === "ready" ? "No other versions." : "";
  return (
    <section>
      <h2>Versions</h2>
      <ol id="versions-list" className="versions plain-list" data-empty={empty}>
        {versions.state === "ready" &&
          [...versions.data].sort(byVersion).map((v) => {
            const current = String(v.id) === String(ds.id);
            const text = `v${v.version} · ${v.name}`;
            return (
              <li key={String(v.id)} data-testid="version-item" data-id={String(v.id)} className={current ? "current" : undefined}>
                {current ? <strong aria-current="page">{text}</strong> : <a href={datasetHref(v.id)}>{text}</a>}{" "}
                <StatusBadge status={v.status} />
                {v.parent !== null && v.parent !== undefined ? <span className="hint">{` from #${String(v.parent)}`}</span> : null}
              </li>
            );
          })}
      </ol>
      <ErrorMessage error={versions.error} />
    </section>
  );
}
