// The parts of a dataset's page that show its profile: summary, warnings, columns, images.
import type { ColumnProfile, Dataset, DatasetProfile, ImageSummary } from "../api";
import { type Child, facts, formatBytes, formatDate, formatNumber, formatPairs, h, messageRow, table } from "../dom";
import { histogramSvg } from "./histogram";
import { datasetHref } from "./uploadForm";

const TOP_SHOWN = 5;

export function delimiterName(d: string | null | undefined): string {
  if (!d) return "—";
  return ({ "\t": "tab", ",": ", (comma)", ";": "; (semicolon)", "|": "| (pipe)", " ": "space" } as Record<string, string>)[d] ?? d;
}

const count = (v: unknown) => (typeof v === "number" ? v.toLocaleString("en-US") : formatNumber(v));

/** The facts card: what was stored, how it was read and what the profile counted. */
export function summaryCard(ds: Dataset): HTMLElement {
  const p: DatasetProfile = ds.profile ?? {};
  const sha = ds.sha256 ?? "";
  const parent =
    ds.parent === null || ds.parent === undefined
      ? "—"
      : h("a", { href: datasetHref(ds.parent), id: "dataset-parent" }, `#${String(ds.parent)}`);
  const changes = ds.changes && Object.keys(ds.changes).length ? formatPairs(ds.changes) : null;
  const pairs: Array<[string, Child]> = [
    ["Kind", ds.kind ?? "—"],
    ["Version", h("span", { id: "dataset-version" }, `v${ds.version ?? 1}`)],
    ["Parent", parent],
  ];
  if (changes) pairs.push(["Changes", h("span", { class: "compact" }, changes)]);
  pairs.push(
    ["Rows", count(p.n_rows ?? ds.n_rows)],
    ["Columns", count(p.n_columns ?? ds.n_columns)],
  );
  if (!p.images) {
    pairs.push(["Duplicate rows", count(p.duplicate_rows)], ["Memory", formatBytes(p.memory_bytes ?? undefined)]);
  }
  pairs.push(
    ["File", ds.original_filename || "—"],
    ["Size", formatBytes(ds.size_bytes)],
    ["Format", ds.format || "—"],
  );
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
    ["SHA-256", h("code", { title: sha, id: "dataset-sha" }, sha.slice(0, 12))],
    ["Uploaded", formatDate(ds.created_at)],
    ["Profiled", formatDate(ds.profiled_at)],
  );
  return h("div", { class: "card", id: "dataset-summary" }, h("h2", null, "Summary"), facts(pairs));
}

export function warningsList(p: DatasetProfile): HTMLElement {
  const warnings = Array.isArray(p.warnings) ? p.warnings : [];
  return h(
    "ul",
    { id: "profile-warnings", class: "warnings plain-list", "data-empty": "No warnings." },
    warnings.map((w) =>
      h(
        "li",
        { "data-testid": "profile-warning", "data-code": w.code, "data-column": w.column ?? null },
        h("code", { class: "warning-code" }, w.code),
        w.column ? h("span", { class: "warning-column" }, w.column) : "",
        h("span", { class: "warning-message" }, w.message),
      ),
    ),
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

function columnSummary(c: ColumnProfile): Child {
  const stats: string[] = [];
  if (c.min !== null && c.min !== undefined) stats.push(`min ${formatNumber(c.min)}`);
  if (c.max !== null && c.max !== undefined) stats.push(`max ${formatNumber(c.max)}`);
  if (typeof c.mean === "number") stats.push(`mean ${formatNumber(c.mean)}`);
  if (typeof c.std === "number") stats.push(`sd ${formatNumber(c.std)}`);
  const extra: string[] = [];
  if (c.length !== null && c.length !== undefined) {
    extra.push(`length ${lengthText(c.length)}`);
  }
  if (typeof c.empty === "number" && c.empty > 0) extra.push(`${count(c.empty)} empty`);
  const top = Array.isArray(c.top) ? c.top : [];
  return [
    stats.length ? h("div", { class: "stats" }, stats.join(" · ")) : "",
    !stats.length && top.length
      ? h(
          "ol",
          { class: "top-values" },
          top.slice(0, TOP_SHOWN).map((t) => h("li", null, h("span", { class: "value" }, shown(t.value)), ` ${count(t.count)}`)),
          top.length > TOP_SHOWN ? h("li", { class: "more" }, `+${top.length - TOP_SHOWN} more`) : "",
        )
      : "",
    extra.length ? h("div", { class: "hint" }, extra.join(" · ")) : "",
    !stats.length && !top.length && !extra.length ? "—" : "",
  ];
}

/** Text lengths as "4–9 chars, mean 7.1"; the histogram is drawn, not printed. */
function lengthText(length: unknown): string {
  if (length === null || typeof length !== "object") return formatNumber(length);
  const l = length as { min?: unknown; max?: unknown; mean?: unknown };
  return `${formatNumber(l.min)}–${formatNumber(l.max)} chars, mean ${formatNumber(l.mean)}`;
}

export function columnsTable(ds: Dataset): HTMLTableElement {
  const p = ds.profile ?? {};
  const nRows = p.n_rows ?? ds.n_rows;
  const cols: ColumnProfile[] = p.columns?.length ? p.columns : (ds.columns ?? []).map((c) => ({ ...c }));
  const body = h(
    "tbody",
    null,
    cols.length
      ? cols.map((c) => {
          const overridden = c.inferred_type && c.inferred_type !== c.type;
          return h(
            "tr",
            { "data-testid": "column-row", "data-column": c.name },
            h("td", { class: "col-name" }, c.name),
            h("td", null, c.type, overridden ? h("span", { class: "hint" }, " (set)") : ""),
            h("td", null, c.inferred_type ?? "—"),
            h("td", { class: "num" }, missingText(c, nRows)),
            h("td", { class: "num" }, count(c.distinct)),
            h("td", { class: "compact" }, columnSummary(c)),
            h("td", null, histogramSvg(c.histogram, c.name) ?? ""),
          );
        })
      : messageRow(7, "No columns."),
  );
  return table(
    { id: "columns-table" },
    ["Name", "Type", "Inferred", "Missing", "Distinct", "Summary", "Distribution"],
    body,
  );
}

/** Rows of `[label, value]` from whatever shape a summary field has. */
function entries(value: unknown): Array<[string, string]> {
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

function countsTable(id: string, heading: string, value: unknown): HTMLElement {
  const rows = entries(value);
  return h(
    "div",
    null,
    h("h3", null, heading),
    table(
      { id, class: "counts" },
      [heading, "Count"],
      h("tbody", null, rows.length ? rows.map(([k, v]) => h("tr", null, h("td", null, k), h("td", { class: "num" }, v))) : messageRow(2, "—")),
    ),
  );
}

function unreadableItem(item: unknown): Child {
  if (item && typeof item === "object" && !Array.isArray(item)) {
    const o = item as Record<string, unknown>;
    const file = o.file ?? o.path ?? o.name ?? o.filename;
    const why = o.error ?? o.reason ?? o.message;
    if (file !== undefined) return [h("code", null, shown(file)), why !== undefined ? ` — ${shown(why)}` : ""];
    return formatPairs(o);
  }
  return h("code", null, shown(item));
}

/** For image zips: counts by class, size, mode and format, and the files that could not be read. */
export function imageSummary(images: ImageSummary): HTMLElement {
  const unreadable = Array.isArray(images.unreadable)
    ? images.unreadable
    : images.unreadable && typeof images.unreadable === "object"
      ? Object.entries(images.unreadable as Record<string, unknown>).map(([file, error]) => ({ file, error }))
      : [];
  return h(
    "section",
    { id: "image-summary" },
    h("h2", null, "Images"),
    facts([
      ["Images", count(images.n_images)],
      ["Layout", shown(images.layout ?? "—")],
      ["Task", shown(images.task ?? "—")],
    ]),
    h(
      "div",
      { class: "split" },
      countsTable("image-classes", "Class", images.classes),
      countsTable("image-sizes", "Size", images.sizes),
      countsTable("image-modes", "Mode", images.modes),
      countsTable("image-formats", "Format", images.formats),
    ),
    h("h3", null, `Unreadable files (${unreadable.length})`),
    h(
      "ul",
      { id: "unreadable-list", class: "plain-list", "data-empty": "None: every image could be read." },
      unreadable.map((u) => h("li", { "data-testid": "unreadable-file" }, unreadableItem(u))),
    ),
  );
}
