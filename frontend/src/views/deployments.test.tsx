// @vitest-environment happy-dom
import { cleanup, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api, type Deployment } from "../api";
import { DeploymentsPage } from "./deployments";

const deployment = (name: string, status: string, extra: Partial<Deployment> = {}): Deployment =>
  ({
    name,
    status,
    model_version: 7,
    model_name: "churn",
    version: 3,
    alias: null,
    created_at: null,
    ready_at: null,
    ...extra,
  }) as unknown as Deployment;

describe("DeploymentsPage", () => {
  afterEach(() => {
    cleanup();
    vi.restoreAllMocks();
    vi.useRealTimers();
  });

  it("says so while loading, then lists each deployment with its version and status", async () => {
    vi.spyOn(api, "deployments").mockResolvedValue([deployment("churn-api", "READY", { alias: "production" })]);
    render(<DeploymentsPage />);
    expect(screen.getByText("Loading…")).toBeTruthy();
    const row = await screen.findByTestId("deployment-row");
    expect(row.dataset.name).toBe("churn-api");
    expect(screen.getByRole("link", { name: "churn-api" }).getAttribute("href")).toBe("#/deployments/churn-api");
    expect(screen.getByRole("link", { name: "churn v3" }).getAttribute("href")).toBe("#/versions/7");
    expect(row.textContent).toContain("(follows production)");
    expect(row.querySelector(".status")?.getAttribute("data-status")).toBe("READY");
  });

  it("points to where deployments are made when there is none", async () => {
    vi.spyOn(api, "deployments").mockResolvedValue([]);
    render(<DeploymentsPage />);
    expect(await screen.findByText(/No deployments yet/)).toBeTruthy();
  });

  it("says why the list could not be loaded", async () => {
    vi.spyOn(api, "deployments").mockRejectedValue(new Error("The server is unreachable."));
    render(<DeploymentsPage />);
    expect((await screen.findByRole("alert")).textContent).toBe("The server is unreachable.");
  });

  it("asks again while a deployment is loading, and stops once it is ready", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const list = vi
      .spyOn(api, "deployments")
      .mockResolvedValueOnce([deployment("a", "LOADING")])
      .mockResolvedValue([deployment("a", "READY")]);
    render(<DeploymentsPage />);
    await screen.findByText("LOADING");
    await vi.advanceTimersByTimeAsync(2100);
    await waitFor(() => expect(screen.getByText("READY")).toBeTruthy());
    await vi.advanceTimersByTimeAsync(6000);
    expect(list).toHaveBeenCalledTimes(2);
  });
});
