import { useState, type ReactNode } from "react";
import { Button } from "react-aria-components";
import { formatNumber, formatPairs } from "../dom";
import { MessageRow, StatusBadge } from "../ui/common";
import type { TrialState } from "./jobLive";
import { nextSort, pageOf, sortTrials, type TrialSort, type TrialSortKey } from "./trialTableData";

const COLUMNS: Array<[string, TrialSortKey | null]> = [
  ["#", "number"],
  ["Status", "status"],
  ["Score (val. loss, lower is better)", "score"],
  ["Epoch", "epoch"],
  ["Latest metrics", null],
  ["Hyperparameters", null],
];

/**
 * A job's trials, sortable by their number, status, score or epoch, a page of 50 at a time, so a
 * search of thousands of trials stays quick to draw while it updates live. The best trial's row
 * is marked.
 */
export function TrialTable({ trials, best }: { trials: TrialState[]; best: number | null }): ReactNode {
  const [sort, setSort] = useState<TrialSort>({ key: "number", descending: false });
  const [page, setPage] = useState(0);
  const shown = pageOf(sortTrials(trials, sort), page);

  return (
    <>
      <table id="trials-table" tabIndex={0}>
        <thead>
          <tr>
            {COLUMNS.map(([label, key]) => {
              if (key === null) return <th key={label}>{label}</th>;
              const active = sort.key === key;
              return (
                <th key={label} aria-sort={active ? (sort.descending ? "descending" : "ascending") : "none"}>
                  <Button
                    className="sort-button"
                    data-sort={key}
                    onPress={() => {
                      setSort(nextSort(sort, key));
                      setPage(0);
                    }}
                  >
                    {label}
                    <span aria-hidden="true">{active ? (sort.descending ? " ▼" : " ▲") : ""}</span>
                  </Button>
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>
          {shown.rows.length ? (
            shown.rows.map((t) => (
              <tr key={t.number} data-testid="trial-row" data-trial={t.number} className={t.number === best ? "best" : undefined}>
                <td className="num">{String(t.number)}</td>
                <td>
                  <StatusBadge status={t.status} />
                </td>
                <td className="num">{formatNumber(t.score)}</td>
                <td className="num">{t.epoch === null ? "—" : String(t.epoch)}</td>
                <td className="compact">{formatPairs(t.metrics)}</td>
                <td className="compact">{formatPairs(t.hyperparameters)}</td>
              </tr>
            ))
          ) : (
            <MessageRow colSpan={COLUMNS.length} text="No trials yet." />
          )}
        </tbody>
      </table>
      {shown.pages > 1 && (
        <nav className="pager" aria-label="Trial pages">
          <Button className="secondary small" isDisabled={shown.page === 0} onPress={() => setPage(shown.page - 1)}>
            Previous
          </Button>
          <span id="trials-range" aria-live="polite">{`Trials ${shown.first}–${shown.last} of ${shown.total}`}</span>
          <Button
            className="secondary small"
            isDisabled={shown.page >= shown.pages - 1}
            onPress={() => setPage(shown.page + 1)}
          >
            Next
          </Button>
        </nav>
      )}
    </>
  );
}
