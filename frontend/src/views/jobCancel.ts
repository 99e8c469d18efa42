import { api, ApiError, type Id, type Job } from "../api";
import { errorSlot, h } from "../dom";

export interface CancelControl {
  el: HTMLElement;
  /** Shows the button while the job can still be cancelled. */
  update(job: Job): void;
  /** The server has the request (a 202, a `cancel_requested` event or flag): wait for the job to stop. */
  markCancelling(): void;
}

const STOPPED_NOTES: Record<string, string> = {
  time_limit: "Stopped by its time limit; the best model so far was kept.",
  cancelled: "Cancelled.",
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
 * The job view's "Cancel" button. `onAnswer` gets the 202's job (a queued job is CANCELLED at once);
 * `onConflict` runs after a 409, when the job finished before the request reached it.
 */
export function cancelControl(
  id: Id,
  signal: AbortSignal,
  onAnswer: (job: Job) => void,
  onConflict: () => void,
): CancelControl {
  const errors = errorSlot();
  const button = h("button", { type: "button", id: "cancel-button", class: "secondary" }, "Cancel");
  const el = h("div", { class: "actions" }, button, errors.el);
  let cancelling = false;

  function markCancelling(): void {
    cancelling = true;
    button.disabled = true;
    button.textContent = "Cancelling…";
  }

  button.addEventListener("click", async () => {
    if (cancelling) return;
    button.disabled = true;
    errors.clear();
    try {
      const job = await api.cancelJob(id, signal);
      markCancelling();
      onAnswer(job);
    } catch (err) {
      errors.show(err);
      button.disabled = false;
      if (err instanceof ApiError && err.status === 409) onConflict();
    }
  });

  return {
    el,
    update(job) {
      button.hidden = !cancellable(job.status);
      if (job.cancel_requested) markCancelling();
    },
    markCancelling,
  };
}
