import { api, ApiError, type Id, type Job } from "../api";
import { errorSlot, h } from "../dom";

export interface CancelControl {
  el: HTMLElement;
  /** Shows the button while the job can still be cancelled. */
  update(job: Job): void;
  /** The server has the request (a 202, a `cancel_requested` event or flag): wait for the job to stop.
   * keepBest: it was "Stop and keep best". */
  markCancelling(keepBest?: boolean): void;
}

const STOPPED_NOTES: Record<string, string> = {
  time_limit: "Stopped by its time limit; the best model so far was kept.",
  cancelled: "Cancelled.",
  stopped_by_user: "Stopped on request; the best model so far was kept.",
};

/** Why the search ended early, if it did. */
export function stoppedNote(job: Job): HTMLElement | string {
  const note = job.stopped ? STOPPED_NOTES[job.stopped] : undefined;
  return note ? h("p", { id: "job-stopped", class: "note" }, note) : "";
}

export function formatLimit(seconds: number | null | undefined): string {
  if (!seconds) return "none";
  return seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`;
}

const cancellable = (status: string) => status === "QUEUED" || status === "RUNNING";

/**
 * The job view's "Cancel" (discard) and "Stop and keep best" buttons; the second only on a
 * running job, since a queued one has no trial to keep. `onAnswer` gets the 202's job (a queued
 * job is CANCELLED at once); `onConflict` runs after a 409, when the job finished before the
 * request reached it.
 */
export function cancelControl(
  id: Id,
  signal: AbortSignal,
  onAnswer: (job: Job) => void,
  onConflict: () => void,
): CancelControl {
  const errors = errorSlot();
  const button = h("button", { type: "button", id: "cancel-button", class: "secondary" }, "Cancel");
  const stop = h(
    "button",
    { type: "button", id: "stop-button", class: "secondary", title: "Stop the search now and register its best finished trial" },
    "Stop and keep best",
  );
  const el = h("div", { class: "actions" }, button, stop, errors.el);
  let cancelling = false;

  function markCancelling(keepBest = false): void {
    cancelling = true;
    button.disabled = true;
    stop.disabled = true;
    if (keepBest) stop.textContent = "Stopping, keeping the best…";
    else button.textContent = "Cancelling…";
  }

  async function ask(keepBest: boolean): Promise<void> {
    if (cancelling) return;
    button.disabled = true;
    stop.disabled = true;
    errors.clear();
    try {
      const job = await api.cancelJob(id, signal, keepBest);
      markCancelling(keepBest);
      onAnswer(job);
    } catch (err) {
      errors.show(err);
      button.disabled = false;
      stop.disabled = false;
      if (err instanceof ApiError && err.status === 409) onConflict();
    }
  }

  button.addEventListener("click", () => void ask(false));
  stop.addEventListener("click", () => void ask(true));

  return {
    el,
    update(job) {
      button.hidden = !cancellable(job.status);
      stop.hidden = job.status !== "RUNNING";
      if (job.cancel_requested) markCancelling(job.keep_best ?? false);
    },
    markCancelling,
  };
}

/** "standard (3 min)", "90 s", or "none" for a job from before budgets. */
export function formatBudget(job: Job): string {
  const limit = formatLimit(job.max_seconds);
  return job.budget ? `${job.budget} (${limit})` : limit;
}
