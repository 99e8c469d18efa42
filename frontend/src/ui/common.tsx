import type { ReactNode } from "react";
import { isNotFound } from "../api";
import { isAbort, messageOf } from "../dom";
import { DEFAULT_ROUTE } from "../router";

/** An error message that says what went wrong (the API's readable detail); nothing for a request
 * cancelled because the user left. The same markup as dom.ts's errorSlot. */
export function ErrorMessage({ error }: { error: unknown }): ReactNode {
  if (error === undefined || error === null || isAbort(error)) return <div className="error-slot" />;
  return (
    <div className="error-slot">
      <p className="error" role="alert">
        {messageOf(error)}
      </p>
    </div>
  );
}

/** A whole page saying an object is not there (deleted, mistyped, or someone else's), as the
 * router draws it for hand-written views. */
export function NotFound({ detail }: { detail: string }): ReactNode {
  return (
    <>
      <h1 id="not-found">Not found</h1>
      <p>{detail}</p>
      <p>
        <a href={DEFAULT_ROUTE}>Back to datasets</a>
      </p>
    </>
  );
}

/** What a page shows when its main object could not be loaded: not found, or the reason. */
export function LoadFailure({ error }: { error: unknown }): ReactNode {
  if (isNotFound(error) && error instanceof Error) return <NotFound detail={error.message} />;
  return <ErrorMessage error={error} />;
}

/** A table that is its own keyboard-scrollable box on a phone (dom.ts's `table`). */
export function DataTable({
  id,
  headers,
  children,
  className,
}: {
  id?: string;
  headers: string[];
  children: ReactNode;
  className?: string;
}): ReactNode {
  return (
    <table id={id} className={className} tabIndex={0}>
      <thead>
        <tr>
          {headers.map((text, i) => (
            <th key={i}>{text}</th>
          ))}
        </tr>
      </thead>
      <tbody>{children}</tbody>
    </table>
  );
}

/** A single full-width row for empty or loading tables. */
export function MessageRow({ colSpan, text }: { colSpan: number; text: string }): ReactNode {
  return (
    <tr className="empty">
      <td colSpan={colSpan}>{text}</td>
    </tr>
  );
}

export function StatusBadge({ status, id }: { status: string; id?: string }): ReactNode {
  return (
    <span className="status" data-status={status} id={id}>
      {status}
    </span>
  );
}

/** A definition list of label/value pairs. */
export function Facts({ pairs, id }: { pairs: Array<[string, ReactNode]>; id?: string }): ReactNode {
  return (
    <dl className="facts" id={id}>
      {pairs.map(([label, value]) => [<dt key={`t-${label}`}>{label}</dt>, <dd key={`d-${label}`}>{value}</dd>])}
    </dl>
  );
}
