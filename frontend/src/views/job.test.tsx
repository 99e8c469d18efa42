// @vitest-environment happy-dom
import { act, cleanup, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { api, ApiError, type Dataset, type Job, type JobEvent } from "../api";
import type { JobSocketHandlers } from "../jobSocket";
import { JobPage } from "./job";
import { apiTrial } from "./trialFixtures";

// The socket is the test's: it hands the page its events.
const sockets: JobSocketHandlers[] = [];
vi.mock("../jobSocket", () => ({
  followJob: (_id: unknown, _signal: AbortSignal, handlers: JobSocketHandlers) => {
    sockets.push(handlers);
    handlers.onState("connecting");
  },
}));
// uPlot needs a real canvas: the charts' drawing is recorded instead, as the browser tests see it.
vi.mock("./chart", async (original) => ({
  ...(await original<typeof import("./chart")>()),
  draw: (chart: { plot: HTMLElement }, _shape: string, _opts: unknown, _data: unknown, points: number) => {
    chart.plot.dataset.points = String(points);
  },
  followWidth: () => undefined,
}));

function job(overrides: Partial<Job> = {}): Job {
  return {
    id: 7,
    dataset: 3,
    target: "diagnosis",
    task_type: "binary",
    status: "RUNNING",
    error: "",
    stopped: "",
    budget: "standard",
    max_seconds: 180,
    max_trials: 2,
    max_epochs: 3,
    seed: 4242,
    tuner: "random",
    queue: "cpu",
    waiting_for: "",
    best_trial: null,
    model_version: null,
    test_metrics: null,
    trials: [],
    created_at: "2026-12-03T10:00:00Z",
    started_at: "2026-12-03T10:00:01Z",
    finished_at: null,
    ...overrides,
  } as unknown as Job;
}

let seq = 0;
function event<K extends JobEvent["kind"]>(kind: K, payload: Extract<JobEvent, { kind: K }>["payload"]): JobEvent {
  return { seq: ++seq, kind, payload, created_at: new Date().toISOString() } as unknown as JobEvent;
}

const ctx = (id = "7") => ({ params: { id }, signal: new AbortController().signal });
const socket = () => sockets[sockets.length - 1]!;
const send = (...events: JobEvent[]) => act(() => events.forEach((e) => socket().onEvent(e)));

describe("JobPage", () => {
  beforeEach(() => {
    sockets.length = 0;
    vi.spyOn(api, "job").mockResolvedValue(job());
    vi.spyOn(api, "dataset").mockResolvedValue({ id: 3, name: "cancer", version: 2 } as Dataset);
  });
  afterEach(() => {
    cleanup();
    vi.restoreAllMocks();
  });

  it("shows the job, then its trials, epochs and charts as events arrive", async () => {
    render(<JobPage ctx={ctx()} />);
    expect(screen.getByText("Loading…")).toBeTruthy();
    expect((await screen.findByText("RUNNING")).id).toBe("job-status");
    expect(screen.getByText("No trials yet.")).toBeTruthy();
    expect(document.querySelector("#job-info-seed")!.textContent).toBe("4242");
    // the dataset by its name, not its id
    await waitFor(() => expect(document.querySelector("#job-dataset")!.textContent).toBe("cancer (v2)"));
    expect(document.querySelector("#job-info-budget")!.textContent).toBe("standard (3 min)");
    expect(document.querySelector("#ws-state")!.textContent).toBe("connecting");
    act(() => socket().onState("live"));
    expect(document.querySelector("#ws-state")!.textContent).toBe("live");

    send(
      event("trial_started", { trial: 0 }),
      event("epoch_end", { trial: 0, epoch: 1, metrics: { val_loss: 0.7 } }),
      event("epoch_end", { trial: 0, epoch: 2, metrics: { val_loss: 0.5 } }),
    );
    // the page redraws once a frame, with both epochs
    const row = await screen.findByTestId("trial-row");
    expect(within(row).getAllByRole("cell")[3]!.textContent).toBe("2");
    expect(within(row).getAllByRole("cell")[4]!.textContent).toBe("val_loss=0.5");
    expect([...document.querySelectorAll("#epoch-log li")].map((li) => li.textContent)).toEqual([
      "trial 0 · epoch 1 · val_loss=0.7",
      "trial 0 · epoch 2 · val_loss=0.5",
    ]);
    await waitFor(() => expect(document.querySelector("#learning-curve")!.getAttribute("data-points")).toBe("2"));
    expect(document.querySelector("#job-progress-row")!.hasAttribute("hidden")).toBe(false);
    expect(document.querySelector("#job-progress-text")!.textContent).toMatch(/^0 of 2 trials finished · /);

    // a replayed event (same seq) changes nothing
    const again = event("epoch_end", { trial: 0, epoch: 3, metrics: { val_loss: 0.4 } });
    send(again, again);
    await waitFor(() => expect(document.querySelectorAll("#epoch-log li")).toHaveLength(3));

    send(event("trial_finished", { trial: 0, status: "COMPLETED", score: 0.4, hyperparameters: { units: 32 } }));
    await waitFor(() => expect(within(row).getByText("COMPLETED")).toBeTruthy());
    await waitFor(() => expect(document.querySelector("#best-so-far")!.getAttribute("data-points")).toBe("1"));
    expect(document.querySelector("#best-so-far-summary")!.textContent).toContain("1 trial(s) finished");
  });

  it("shows the outcome of a job that finishes, fetched again, and lets a hyperparameter be picked", async () => {
    const user = userEvent.setup();
    const trials = [apiTrial(0, 0.5, { units: 64, rate: 0.01 }), apiTrial(1, 0.3, { units: 32, rate: 0.001 })];
    vi.mocked(api.job)
      .mockResolvedValueOnce(job({ trials }))
      .mockResolvedValue(
        job({ trials, status: "SUCCEEDED", best_trial: 1, model_version: 12, test_metrics: { accuracy: 0.93 } }),
      );
    render(<JobPage ctx={ctx()} />);
    expect(await screen.findAllByTestId("trial-row")).toHaveLength(2);
    expect(screen.getByRole("button", { name: "Stop and keep best" })).toBeTruthy();

    send(event("job_finished", { status: "SUCCEEDED", model_version: 12 }));
    await waitFor(() => expect(document.querySelector("#job-status")!.textContent).toBe("SUCCEEDED"));
    await waitFor(() => expect(document.querySelector("tr.best")?.getAttribute("data-trial")).toBe("1"));
    expect(await screen.findByRole("button", { name: "Deploy best model" })).toBeTruthy();
    expect(document.querySelector("#test-metrics")!.textContent).toContain("accuracy");
    expect(document.querySelector("#job-version-link")!.textContent).toBe("model version #12");
    // finished: neither Cancel nor Stop, and no progress bar
    expect(document.querySelector("#cancel-button")).toBeNull();
    expect(document.querySelector("#stop-button")).toBeNull();
    expect(document.querySelector("#job-progress-row")!.hasAttribute("hidden")).toBe(true);

    // the hyperparameter chart plots the first one, then the one picked
    expect(document.querySelector("#hp-chart-summary")!.textContent).toMatch(/^2 trial\(s\) with units/);
    expect(document.querySelector("#hp-parallel")!.getAttribute("data-lines")).toBe("2");
    await user.click(screen.getByRole("button", { name: /Hyperparameter to plot/ }));
    await user.click(await screen.findByRole("option", { name: "rate" }));
    expect(document.querySelector("#hp-chart-summary")!.textContent).toMatch(/^2 trial\(s\) with rate/);
  });

  it("asks before cancelling, and cancels only when confirmed", async () => {
    const user = userEvent.setup();
    vi.spyOn(api, "cancelJob").mockResolvedValue(job({ cancel_requested: true } as Partial<Job>));
    render(<JobPage ctx={ctx()} />);
    await user.click(await screen.findByRole("button", { name: "Cancel" }));
    const dialog = await screen.findByRole("alertdialog", { name: "Cancel this job?" });
    await user.click(within(dialog).getByRole("button", { name: "Keep running" }));
    await waitFor(() => expect(screen.queryByRole("alertdialog")).toBeNull());
    expect(api.cancelJob).not.toHaveBeenCalled();

    await user.click(screen.getByRole("button", { name: "Cancel" }));
    await user.click(within(await screen.findByRole("alertdialog")).getByRole("button", { name: "Cancel job" }));
    expect(api.cancelJob).toHaveBeenCalledWith(7, expect.any(AbortSignal), false);
    const cancelling = await screen.findByRole("button", { name: "Cancelling…" });
    expect(cancelling.hasAttribute("disabled")).toBe(true);
    expect(screen.getByRole("button", { name: "Stop and keep best" }).hasAttribute("disabled")).toBe(true);
  });

  it("says why a stop failed, and fetches the job again when it had already finished", async () => {
    const user = userEvent.setup();
    vi.spyOn(api, "cancelJob").mockRejectedValue(new ApiError(409, null, "The job has already finished."));
    render(<JobPage ctx={ctx()} />);
    await user.click(await screen.findByRole("button", { name: "Stop and keep best" }));
    await user.click(within(await screen.findByRole("alertdialog")).getByRole("button", { name: "Stop and keep best" }));
    expect(api.cancelJob).toHaveBeenCalledWith(7, expect.any(AbortSignal), true);
    expect((await screen.findByRole("alert")).textContent).toBe("The job has already finished.");
    await waitFor(() => expect(api.job).toHaveBeenCalledTimes(2));
    // a stop the server already has (an event) waits for the job, whoever asked
    send(event("cancel_requested", { keep_best: true }));
    expect(await screen.findByRole("button", { name: "Stopping, keeping the best…" })).toBeTruthy();
  });

  it("shows a not-found page for a job that is not there, and the reason for other failures", async () => {
    vi.mocked(api.job).mockRejectedValueOnce(new ApiError(404, null, "No job 9."));
    render(<JobPage ctx={ctx("9")} />);
    expect((await screen.findByRole("heading", { name: "Not found" })).id).toBe("not-found");
    expect(document.querySelector(".status")).toBeNull();
    cleanup();

    vi.mocked(api.job).mockRejectedValueOnce(new Error("The server is unreachable."));
    render(<JobPage ctx={ctx()} />);
    expect((await screen.findByRole("alert")).textContent).toBe("The server is unreachable.");
    expect(screen.getByRole("link", { name: "← Jobs" })).toBeTruthy();
  });

  it("says when live updates are refused", async () => {
    render(<JobPage ctx={ctx()} />);
    await screen.findByText("RUNNING");
    act(() => socket().onRefused(4403));
    expect((await screen.findByRole("alert")).textContent).toBe("Not allowed to follow this job.");
  });
});
