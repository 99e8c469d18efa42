// The trial table's order and pages, without DOM: a search of thousands of trials draws one
// page of rows, whatever order the reader picks.
import type { TrialState } from "./jobLive";

export type TrialSortKey = "number" | "status" | "score" | "epoch";
export interface TrialSort {
  key: TrialSortKey;
  descending: boolean;
}
export const PAGE_SIZE = 50;

function value(t: TrialState, key: TrialSortKey): number | string | null {
  return key === "status" ? t.status : t[key];
}

/** The trials in the chosen order; a trial without the value (no score yet) comes last either
 * way, and ties keep the trials' numbers in order. */
export function sortTrials(trials: readonly TrialState[], sort: TrialSort): TrialState[] {
  const sign = sort.descending ? -1 : 1;
  return [...trials].sort((a, b) => {
    const x = value(a, sort.key);
    const y = value(b, sort.key);
    if (x === null || y === null) {
      if (x !== y) return x === null ? 1 : -1;
    } else if (x !== y) {
      return (x < y ? -1 : 1) * sign;
    }
    return a.number - b.number;
  });
}

export interface TrialPage {
  rows: TrialState[];
  page: number;
  pages: number;
  first: number;
  last: number;
  total: number;
}

/** Page `page` (from 0, clamped to what exists) of the sorted trials. */
export function pageOf(sorted: readonly TrialState[], page: number, size = PAGE_SIZE): TrialPage {
  const pages = Math.max(1, Math.ceil(sorted.length / size));
  const at = Math.min(Math.max(0, page), pages - 1);
  const rows = sorted.slice(at * size, at * size + size);
  return { rows, page: at, pages, first: rows.length ? at * size + 1 : 0, last: at * size + rows.length, total: sorted.length };
}

/** Clicking a column's header: the same column flips its direction; another starts ascending
 * (for the score, the best, lowest loss, first). */
export function nextSort(current: TrialSort, key: TrialSortKey): TrialSort {
  if (current.key === key) return { key, descending: !current.descending };
  return { key, descending: false };
}
