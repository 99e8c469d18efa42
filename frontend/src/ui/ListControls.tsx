import { useEffect, useState, type ReactNode } from "react";
import { Input, Label, SearchField } from "react-aria-components";
import type { ListQuery } from "../api";
import { Choice } from "./Choice";

const ANY = "";
// Typing pauses this long before the list is asked again: one request per word, not per key.
export const SEARCH_DELAY_MS = 250;

/**
 * Search, filter and order a list, asked of the API (`ListQuery`), so a long list is narrowed by
 * the server rather than read whole. `id` prefixes the widgets' ids (`<id>-search`, ...).
 */
export function ListControls({
  id,
  searchLabel,
  statuses,
  orderings,
  value,
  onChange,
}: {
  id: string;
  searchLabel: string;
  statuses?: string[];
  orderings: Array<[string, string]>;
  value: ListQuery;
  onChange: (query: ListQuery) => void;
}): ReactNode {
  const [text, setText] = useState(value.search ?? "");
  useEffect(() => {
    if (text === (value.search ?? "")) return undefined;
    const timer = setTimeout(() => onChange({ ...value, search: text }), SEARCH_DELAY_MS);
    return () => clearTimeout(timer);
  }, [text, value, onChange]);

  return (
    <div className="list-controls" role="search" aria-label={`Narrow the list: ${searchLabel.toLowerCase()}`}>
      <SearchField id={`${id}-search`} value={text} onChange={setText} onSubmit={(t) => onChange({ ...value, search: t })}>
        <Label>{searchLabel}</Label>
        <Input placeholder="Type to search" />
      </SearchField>
      {statuses && (
        <Choice
          id={`${id}-status`}
          label="Status"
          value={value.status ?? ANY}
          options={[[ANY, "Any status"], ...statuses.map((s): [string, string] => [s, s])]}
          onChange={(status) => onChange({ ...value, status })}
        />
      )}
      <Choice
        id={`${id}-ordering`}
        label="Order"
        value={value.ordering ?? orderings[0]![0]}
        options={orderings}
        onChange={(ordering) => onChange({ ...value, ordering })}
      />
    </div>
  );
}

/** A list's query, and what to show when it finds nothing. */
export function emptyText(query: ListQuery, none: string): string {
  return query.search || query.status ? "Nothing matches; change the search or the status." : none;
}
