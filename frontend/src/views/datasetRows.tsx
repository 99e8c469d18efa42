import { useEffect, useState, type ReactNode } from "react";
import { Button } from "react-aria-components";
import { api, type Dataset } from "../api";
import { isAbort } from "../dom";
import { ErrorMessage, MessageRow } from "../ui/common";

export const PAGE_ROWS = 20;

function Cell({ value }: { value: unknown }): ReactNode {
  if (value === null || value === undefined) return <td className="missing">—</td>;
  const text = typeof value === "object" ? JSON.stringify(value) : String(value);
  return <td className={typeof value === "number" ? "num" : undefined}>{text}</td>;
}

interface Page {
  offset: number;
  rows: Array<Record<string, unknown>>;
  count: number | null;
  next: number | null;
}

/** A page-by-page preview of the stored rows, as the server reads them. */
export function RowsPreview({ ds }: { ds: Dataset }): ReactNode {
  const profiled = (ds.profile?.columns ?? ds.columns ?? []).map((c) => c.name);
  // The offset asked for; each change loads that page (a newer ask aborts an older one).
  const [at, setAt] = useState(0);
  const [attempt, setAttempt] = useState(0);
  const [page, setPage] = useState<Page | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(undefined);

  useEffect(() => {
    const controller = new AbortController();
    setLoading(true);
    api.datasetRows(ds.id, at, PAGE_ROWS, controller.signal).then(
      (answer) => {
        if (controller.signal.aborted) return;
        setPage({
          offset: answer.offset ?? at,
          rows: Array.isArray(answer.rows) ? answer.rows : [],
          count: typeof answer.count === "number" ? answer.count : null,
          next: answer.next_offset ?? null,
        });
        setError(undefined);
        setLoading(false);
      },
      (err: unknown) => {
        if (isAbort(err) || controller.signal.aborted) return;
        setError(err);
        setLoading(false);
      },
    );
    return () => controller.abort();
  }, [ds.id, at, attempt]);

  // Columns the profile does not know (should not happen) still get shown.
  const names = [...profiled];
  for (const row of page?.rows ?? []) for (const key of Object.keys(row)) if (!names.includes(key)) names.push(key);
  const offset = page?.offset ?? 0;

  let body: ReactNode;
  if (!page) body = <MessageRow colSpan={Math.max(names.length, 1)} text={error ? "Could not load the rows." : "Loading…"} />;
  else if (!page.rows.length) body = <MessageRow colSpan={names.length + 1} text="No rows here." />;
  else {
    body = page.rows.map((row, i) => (
      <tr key={offset + i} data-testid="data-row">
        <td className="num muted">{String(offset + i + 1)}</td>
        {names.map((n) => (
          <Cell key={n} value={row[n]} />
        ))}
      </tr>
    ));
  }
  const range =
    page && page.rows.length
      ? `Rows ${offset + 1}–${offset + page.rows.length}${page.count === null ? "" : ` of ${page.count.toLocaleString("en-US")}`}`
      : "";

  function go(to: number): void {
    if (to === at) setAttempt((a) => a + 1); // the same page again, after a failure
    else setAt(to);
  }

  return (
    <section id="rows-preview">
      <div className="section-head">
        <h2>Rows</h2>
        <div className="actions">
          <Button
            id="rows-prev"
            className="react-aria-Button secondary"
            isDisabled={loading || offset <= 0}
            onPress={() => go(Math.max(0, offset - PAGE_ROWS))}
          >
            ← Prev
          </Button>
          <Button
            id="rows-next"
            className="react-aria-Button secondary"
            // After a failure it stays pressable, to try again.
            isDisabled={loading || (!error && (page === null || page.next === null))}
            onPress={() => go(error || !page || page.next === null ? at : page.next)}
          >
            Next →
          </Button>
          <span id="rows-range" className="hint">
            {range}
          </span>
        </div>
        <a id="export-link" href={api.exportUrl(ds.id)} download={`dataset-${String(ds.id)}-v${ds.version ?? 1}.csv`}>
          Export CSV
        </a>
      </div>
      <ErrorMessage error={error} />
      <div className="table-scroll" tabIndex={0} role="region" aria-label="Rows">
        <table id="rows-table">
          <thead>
            <tr>
              <th className="num">#</th>
              {names.map((n) => (
                <th key={n}>{n}</th>
              ))}
            </tr>
          </thead>
          <tbody>{body}</tbody>
        </table>
      </div>
    </section>
  );
}
