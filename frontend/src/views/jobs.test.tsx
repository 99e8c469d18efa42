// @vitest-environment happy-dom
import { cleanup, render, screen, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { api, type DatasetListItem, type Job } from "../api";
import { JobsPage } from "./jobs";

const job = (id: number, status: string): Job =>
  ({ id, dataset: 7, target: "diagnosis", task_type: "binary", status, created_at: "2026-01-02T03:04:05Z" }) as unknown as Job;

describe("JobsPage", () => {
  beforeEach(() => {
    vi.spyOn(api, "datasets").mockResolvedValue([{ id: 7, name: "cancer" } as DatasetListItem]);
  });
  afterEach(() => {
    cleanup();
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  const ctx = { params: {}, signal: new AbortController().signal };

  it("lists the jobs with their dataset's name and status, and links to a new one", async () => {
    vi.spyOn(api, "jobs").mockResolvedValue([job(3, "SUCCEEDED")]);
    render(<JobsPage ctx={ctx} />);
    expect(screen.getByText("Loading…")).toBeTruthy();
    const link = await screen.findByRole("link", { name: "Job #3" });
    expect(link.getAttribute("href")).toBe("#/jobs/3");
    expect(screen.getByRole("link", { name: "cancer" }).getAttribute("href")).toBe("#/datasets/7");
    expect(within(document.getElementById("jobs-table")!).getByText("SUCCEEDED").getAttribute("data-status")).toBe("SUCCEEDED");
    expect(screen.getByRole("link", { name: "New job" }).getAttribute("href")).toBe("#/jobs/new");
  });

  it("says when there are none, and still lists jobs when the dataset names fail", async () => {
    vi.spyOn(api, "jobs").mockResolvedValue([]);
    render(<JobsPage ctx={ctx} />);
    expect(await screen.findByText("No jobs yet. Pick a dataset and start training.")).toBeTruthy();
    cleanup();

    vi.mocked(api.jobs).mockResolvedValue([job(4, "FAILED")]);
    vi.mocked(api.datasets).mockRejectedValue(new Error("down"));
    render(<JobsPage ctx={ctx} />);
    expect(await screen.findByRole("link", { name: "#7" })).toBeTruthy();
  });

  it("shows why the list could not be loaded", async () => {
    vi.spyOn(api, "jobs").mockRejectedValue(new Error("The server is unreachable."));
    render(<JobsPage ctx={ctx} />);
    expect((await screen.findByRole("alert")).textContent).toBe("The server is unreachable.");
    expect(screen.getByText("Could not load the jobs.")).toBeTruthy();
  });

  it("refreshes while a job is still running, and stops once all are finished", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const jobs = vi.spyOn(api, "jobs").mockResolvedValueOnce([job(5, "RUNNING")]).mockResolvedValue([job(5, "SUCCEEDED")]);
    render(<JobsPage ctx={ctx} />);
    expect(await screen.findByText("RUNNING")).toBeTruthy();
    const calls = jobs.mock.calls.length;
    await vi.advanceTimersByTimeAsync(3100);
    expect(await screen.findByText("SUCCEEDED")).toBeTruthy();
    expect(jobs.mock.calls.length).toBe(calls + 1);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(jobs.mock.calls.length).toBe(calls + 1);
  });
});
