import { useState, type ReactNode } from "react";
import { Button, Dialog, DialogTrigger, Heading, Modal, ModalOverlay } from "react-aria-components";
import { api, ApiError, type Id, type Job } from "../api";
import { ErrorMessage } from "../ui/common";
import "./jobview.css";

const STOPPED_NOTES: Record<string, string> = {
  time_limit: "Stopped by its time limit; the best model so far was kept.",
  cancelled: "Cancelled.",
  stopped_by_user: "Stopped on request; the best model so far was kept.",
};

/** Why the search ended early, if it did. */
export function StoppedNote({ job }: { job: Job }): ReactNode {
  const note = job.stopped ? STOPPED_NOTES[job.stopped] : undefined;
  return note ? (
    <p id="job-stopped" className="note">
      {note}
    </p>
  ) : null;
}

export function formatLimit(seconds: number | null | undefined): string {
  if (!seconds) return "none";
  return seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`;
}

/** "standard (3 min)", "90 s", or "none" for a job from before budgets. */
export function formatBudget(job: Job): string {
  const limit = formatLimit(job.max_seconds);
  return job.budget ? `${job.budget} (${limit})` : limit;
}

const cancellable = (status: string) => status === "QUEUED" || status === "RUNNING";

interface Ask {
  id: string;
  title: string;
  text: string;
  confirm: string;
}

const ASK: Record<"cancel" | "stop", Ask> = {
  cancel: {
    id: "cancel",
    title: "Cancel this job?",
    text: "The search stops at its next batch and registers no model; its trials so far are discarded.",
    confirm: "Cancel job",
  },
  stop: {
    id: "stop",
    title: "Stop and keep the best?",
    text: "The search stops now and registers its best finished trial as the job's model.",
    confirm: "Stop and keep best",
  },
};

// A native tooltip: React Aria's Button passes global DOM attributes on, but its type omits `title`.
const tooltip = (title: string | undefined): object => (title ? { title } : {});

/** A trigger button and the modal dialog that asks before the irreversible request is sent. */
function Confirmed({
  ask,
  trigger,
  title,
  isDisabled,
  onConfirm,
}: {
  ask: Ask;
  trigger: string;
  title?: string;
  isDisabled: boolean;
  onConfirm: () => void;
}): ReactNode {
  return (
    <DialogTrigger>
      <Button id={`${ask.id}-button`} className="secondary" isDisabled={isDisabled} {...tooltip(title)}>
        {trigger}
      </Button>
      <ModalOverlay isDismissable className="jobview-overlay">
        <Modal className="jobview-modal">
          <Dialog role="alertdialog" id={`${ask.id}-dialog`} className="jobview-dialog">
            {({ close }) => (
              <>
                <Heading slot="title">{ask.title}</Heading>
                <p>{ask.text}</p>
                <div className="actions wrap">
                  <Button className="secondary" onPress={close} autoFocus>
                    Keep running
                  </Button>
                  <Button
                    id={`${ask.id}-confirm`}
                    className="danger"
                    onPress={() => {
                      close();
                      onConfirm();
                    }}
                  >
                    {ask.confirm}
                  </Button>
                </div>
              </>
            )}
          </Dialog>
        </Modal>
      </ModalOverlay>
    </DialogTrigger>
  );
}

/**
 * The job page's "Cancel" (discard) and "Stop and keep best" buttons, each confirmed in a modal
 * dialog; the second only on a running job, since a queued one has no trial to keep. `onAnswer`
 * gets the 202's job (a queued job is CANCELLED at once); `onConflict` runs after a 409, when the
 * job finished before the request reached it. Once the server has the request (the 202, a
 * `cancel_requested` event or the job's flag) both wait, disabled, for the job to stop.
 */
export function CancelControl({
  job,
  signal,
  onAnswer,
  onConflict,
}: {
  job: Job;
  signal: AbortSignal;
  onAnswer: (job: Job) => void;
  onConflict: () => void;
}): ReactNode {
  const [busy, setBusy] = useState(false);
  const [requested, setRequested] = useState<boolean | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  const cancelling = requested !== null || !!job.cancel_requested;
  const keepBest = requested ?? job.keep_best ?? false;

  async function send(wantBest: boolean): Promise<void> {
    if (cancelling || busy) return;
    setBusy(true);
    setError(undefined);
    try {
      const answer = await api.cancelJob(job.id as Id, signal, wantBest);
      setRequested(wantBest);
      onAnswer(answer);
    } catch (err) {
      setError(err);
      if (err instanceof ApiError && err.status === 409) onConflict();
    } finally {
      setBusy(false);
    }
  }

  const disabled = busy || cancelling;
  const stopTitle = "Stop the search now and register its best finished trial";
  return (
    <div className="actions">
      {cancellable(job.status) && (
        <Confirmed
          ask={ASK.cancel}
          trigger={cancelling && !keepBest ? "Cancelling…" : "Cancel"}
          isDisabled={disabled}
          onConfirm={() => void send(false)}
        />
      )}
      {job.status === "RUNNING" && (
        <Confirmed
          ask={ASK.stop}
          trigger={cancelling && keepBest ? "Stopping, keeping the best…" : "Stop and keep best"}
          title={stopTitle}
          isDisabled={disabled}
          onConfirm={() => void send(true)}
        />
      )}
      <ErrorMessage error={error} />
    </div>
  );
}
