// The parts of a dataset's page that show its profile: summary, warnings, columns, images.
import type { ReactNode } from "react";
import type { ColumnProfile, Dataset, DatasetProfile, ImageSummary } from "../api";
import { formatBytes, formatDate, formatNumber, formatPairs } from "../dom";
import { Facts, MessageRow } from "../ui/common";
import { Histogram } from "./histogram";
import { datasetHref } from "./uploadForm";

const TOP_SHOWN = 5;

export function delimiterName(d: string | null | undefined): string {
  if (!d) return "—";
  return ({ "\t": "tab", ",": ", (comma)", ";": "; (semicolon)", "|": "| (pipe)", " ": "space" } as Record<string, string>)[d] ?? d;
}

const count = (v: unknown) => (typeof v === "number" ? v.toLocaleString("en-US") : formatNumber(v));

/** The facts card: what was stored, how it was read and what the profile counted. */
export function SummaryCard({ ds }: { ds: Dataset }): ReactNode {
  const p: DatasetProfile = ds.profile ?? {};
  const sha = ds.sha256 ?? "";
  const parent =
    ds.parent === null || ds.parent === undefined ? (
      "—"
    ) : (
      <a href={datasetHref(ds.parent)} id="dataset-parent">{`#${String(ds.parent)}`}</a>
    );
  const changes = ds.changes && Object.keys(ds.changes).length ? formatPairs(ds.changes) : null;
  const pairs: Array<[string, ReactNode]> = [
    ["Kind", ds.kind ?? "—"],
    ["Version", <span id="dataset-version">{`v${ds.version ?? 1}`}</span>],
    ["Parent", parent],
  ];
  if (changes) pairs.push(["Changes", <span className="compact">{changes}</span>]);
  pairs.push(["Rows", count(p.n_rows ?? ds.n_rows)], ["Columns", count(p.n_columns ?? ds.n_columns)]);
  if (!p.images) {
    const duplicates = count(p.duplicate_rows);
    pairs.push(
      ["Duplicate rows", p.duplicate_rows_approx ? `about ${duplicates}` : duplicates],
      ["Memory", formatBytes(p.memory_bytes ?? undefined)],
    );
  }
  pairs.push(["File", ds.original_filename || "—"], ["Size", formatBytes(ds.size_bytes)], ["Format", ds.format || "—"]);
  if (!p.images) {
    pairs.push(
      ["Encoding", ds.encoding || "—"],
      ["Delimiter", delimiterName(ds.delimiter)],
      ["Header row", ds.has_header === undefined ? "—" : ds.has_header ? "yes" : "no"],
    );
    if (ds.text_column) pairs.push(["Text column", ds.text_column]);
    if (ds.timestamp_column) pairs.push(["Timestamp column", ds.timestamp_column]);
  }
  pairs.push(
    [
      "SHA-256",
      <code title={sha} id="dataset-sha">
        {sha.slice(0, 12)}
      </code>,
    ],
    ["Uploaded", formatDate(ds.created_at)],
    ["Profiled", formatDate(ds.profiled_at)],
  );
  return (
    <div className="card" id="dataset-summary">
      <h2>Summary</h2>
      <Facts pairs={pairs} />
    </div>
  );
}

export function WarningsList({ profile }: { profile: DatasetProfile }): ReactNode {
  const warnings = Array.isArray(profile.warnings) ? profile.warnings : [];
  return (
    <ul id="profile-warnings" className="warnings plain-list" data-empty="No warnings.">
      {warnings.map((w, i) => (
        <li key={i} data-testid="profile-warning" data-code={w.code} data-column={w.column ?? undefined}>
          <code className="warning-code">{w.code}</code>
          {w.column ? <span className="warning-column">{w.column}</span> : null}
          <span className="warning-message">{w.message}</span>
        </li>
      ))}
    </ul>
  );
}

function missingText(c: ColumnProfile, nRows: number | null | undefined): string {
  const m = c.missing;
  if (typeof m !== "number") return formatNumber(m);
  if (!Number.isInteger(m) && m > 0 && m < 1) return `${(m * 100).toFixed(1)}%`; // a fraction
  if (nRows && nRows > 0 && m > 0) return `${count(m)} (${((m / nRows) * 100).toFixed(1)}%)`;
  return count(m);
}

const shown = (v: unknown) => (v === null || v === undefined ? "(missing)" : typeof v === "string" ? v : formatNumber(v));

/** Text lengths as "4–9 chars, mean 7.1"; the histogram is drawn, not printed. */
function lengthText(length: unknown): string {
  if (length === null || typeof length !== "object") return formatNumber(length);
  const l = length as { min?: unknown; max?: unknown; mean?: unknown };
  return `${formatNumber(l.min)}–${formatNumber(l.max)} chars, mean ${formatNumber(l.mean)}`;
}

function ColumnSummary({ c }: { c: ColumnProfile }): ReactNode {
  const stats: string[] = [];
  if (c.min !== null && c.min !== undefined) stats.push(`min ${formatNumber(c.min)}`);
  if (c.max !== null && c.max !== undefined) stats.push(`max ${formatNumber(c.max)}`);
  if (typeof c.mean === "number") stats.push(`mean ${formatNumber(c.mean)}`);
  if (typeof c.std === "number") stats.push(`sd ${formatNumber(c.std)}`);
  const extra: string[] = [];
  if (c.length !== null && c.length !== undefined) extra.push(`length ${lengthText(c.length)}`);
  if (typeof c.empty === "number" && c.empty > 0) extra.push(`${count(c.empty)} empty`);
  const top = Array.isArray(c.top) ? c.top : [];
  return (
    <>
      {stats.length ? <div className="stats">{stats.join(" · ")}</div> : null}
      {!stats.length && top.length ? (
        <ol className="top-values">
          {top.slice(0, TOP_SHOWN).map((t, i) => (
            <li key={i}>
              <span className="value">{shown(t.value)}</span>
              {` ${count(t.count)}`}
            </li>
          ))}
          {top.length > TOP_SHOWN ? <li className="more">{`+${top.length - TOP_SHOWN} more`}</li> : null}
        </ol>
      ) : null}
      {extra.length ? <div className="hint">{extra.join(" · ")}</div> : null}
      {!stats.length && !top.length && !extra.length ? "—" : null}
    </>
  );
}

const COLUMN_HEADERS = ["Name", "Type", "Inferred", "Missing", "Distinct", "Summary", "Distribution"];

/** The profile's columns; the table sits in its own scrolling region, so it is not focusable. */
export function ColumnsTable({ ds }: { ds: Dataset }): ReactNode {
  const p = ds.profile ?? {};
  const nRows = p.n_rows ?? ds.n_rows;
  const cols: ColumnProfile[] = p.columns?.length ? p.columns : (ds.columns ?? []).map((c) => ({ ...c }));
  return (
    <table id="columns-table">
      <thead>
        <tr>
          {COLUMN_HEADERS.map((t) => (
            <th key={t}>{t}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {cols.length ? (
          cols.map((c) => {
            const overridden = c.inferred_type && c.inferred_type !== c.type;
            return (
              <tr key={c.name} data-testid="column-row" data-column={c.name}>
                <td className="col-name">{c.name}</td>
                <td>
                  {c.type}
                  {overridden ? <span className="hint"> (set)</span> : null}
                </td>
                <td>{c.inferred_type ?? "—"}</td>
                <td className="num">{missingText(c, nRows)}</td>
                <td className="num">{count(c.distinct)}</td>
                <td className="compact">
                  <ColumnSummary c={c} />
                </td>
                <td>
                  <Histogram hist={c.histogram} label={c.name} />
                </td>
              </tr>
            );
          })
        ) : (
          <MessageRow colSpan={7} text="No columns." />
        )}
      </tbody>
    </table>
  );
}

/** Rows of `[label, value]` from whatever shape a summary field has. */
export function entries(value: unknown): Array<[string, string]> {
  if (value === null || value === undefined) return [];
  if (Array.isArray(value)) {
    return value.map((item, i): [string, string] => {
      if (Array.isArray(item) && item.length === 2) return [shown(item[0]), shown(item[1])];
      if (item && typeof item === "object") {
        const o = item as Record<string, unknown>;
        const key = o.name ?? o.value ?? o.label ?? o.class ?? o.size ?? o.mode ?? o.format;
        if (key !== undefined && "count" in o) return [shown(key), shown(o.count)];
        return [String(i + 1), formatPairs(o)];
      }
      return [String(i + 1), shown(item)];
    });
  }
  if (typeof value === "object") {
    const list = Object.entries(value as Record<string, unknown>).map(([k, v]): [string, string] => [
      k,
      v !== null && typeof v === "object" ? (Array.isArray(v) ? v.map(shown).join(" × ") : formatPairs(v)) : shown(v),
    ]);
    // Counts read best largest first.
    if (Object.values(value as object).every((v) => typeof v === "number")) {
      list.sort((a, b) => Number(b[1]) - Number(a[1]));
    }
    return list;
  }
  return [["", shown(value)]];
}

function CountsTable({ id, heading, value }: { id: string; heading: string; value: unknown }): ReactNode {
  const rows = entries(value);
  return (
    <div>
      <h3>{heading}</h3>
      <table id={id} className="counts" tabIndex={0}>
        <thead>
          <tr>
            <th>{heading}</th>
            <th>Count</th>
          </tr>
        </thead>
        <tbody>
          {rows.length ? (
            rows.map(([k, v], i) => (
              <tr key={i}>
                <td>{k}</td>
                <td className="num">{v}</td>
              </tr>
            ))
          ) : (
            <MessageRow colSpan={2} text="—" />
          )}
        </tbody>
      </table>
    </div>
  );
}

function UnreadableItem({ item }: { item: unknown }): ReactNode {
  if (item && typeof item === "object" && !Array.isArray(item)) {
    const o = item as Record<string, unknown>;
    const file = o.file ?? o.path ?? o.name ?? o.filename;
    const why = o.error ?? o.reason ?? o.message;
    if (file !== undefined) {
      return (
        <>
          <code>{shown(file)}</code>
          {why !== undefined ? ` — ${shown(why)}` : null}
        </>
      );
    }
    return formatPairs(o);
  }
  return <code>{shown(item)}</code>;
}

/** For image zips: counts by class, size, mode and format, and the files that could not be read. */
export function ImageSummaryView({ images }: { images: ImageSummary }): ReactNode {
  const unreadable = Array.isArray(images.unreadable)
    ? images.unreadable
    : images.unreadable && typeof images.unreadable === "object"
      ? Object.entries(images.unreadable as Record<string, unknown>).map(([file, error]) => ({ file, error }))
      : [];
  return (
    <section id="image-summary">
      <h2>Images</h2>
      <Facts
        pairs={[
          ["Images", count(images.n_images)],
          ["Layout", shown(images.layout ?? "—")],
          ["Task", shown(images.task ?? "—")],
        ]}
      />
      <div className="split">
        <CountsTable id="image-classes" heading="Class" value={images.classes} />
        <CountsTable id="image-sizes" heading="Size" value={images.sizes} />
        <CountsTable id="image-modes" heading="Mode" value={images.modes} />
        <CountsTable id="image-formats" heading="Format" value={images.formats} />
      </div>
      <h3>{`Unreadable files (${unreadable.length})`}</h3>
      <ul id="unreadable-list" className="plain-list" data-empty="None: every image could be read.">
        {unreadable.map((u, i) => (
          <li key={i} data-testid="unreadable-file">
            <UnreadableItem item={u} />
          </li>
        ))}
      </ul>
    </section>
  );
}
