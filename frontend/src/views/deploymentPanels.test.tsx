// @vitest-environment happy-dom
import { cleanup, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { api, type DeploymentKey, type DeploymentTraffic, type NewDeploymentKey } from "../api";
import { KeysPanel, MetricsPanel } from "./deploymentPanels";

// uPlot needs a real canvas; the charts' own data is tested in trafficChartData.test.ts.
const update = vi.fn();
vi.mock("./trafficCharts", () => ({
  trafficCharts: () => ({ el: document.createElement("div"), update }),
}));

const key = (id: number, name: string, extra: Partial<DeploymentKey> = {}): DeploymentKey =>
  ({
    id,
    name,
    prefix: `dk_${id}`,
    rate_limit_per_minute: null,
    created_at: null,
    expires_at: null,
    last_used_at: null,
    revoked_at: null,
    active: true,
    ...extra,
  }) as unknown as DeploymentKey;

describe("KeysPanel", () => {
  let stored: DeploymentKey[];
  beforeEach(() => {
    stored = [];
    vi.spyOn(api, "deploymentKeys").mockImplementation(async () => [...stored]);
    vi.spyOn(api, "createDeploymentKey").mockImplementation(async (_name, body) => {
      stored.push(key(2, body.name, { rate_limit_per_minute: body.rate_limit_per_minute }));
      return { ...key(2, body.name), key: "dk_secret" } as unknown as NewDeploymentKey;
    });
    vi.spyOn(api, "revokeDeploymentKey").mockImplementation(async (_name, id) => {
      stored = stored.map((k) => (k.id === id ? { ...k, revoked_at: "2026-01-01T00:00:00Z", active: false } : k));
    });
  });
  afterEach(() => {
    cleanup();
    vi.restoreAllMocks();
  });

  it("makes a key, shows it once with a copy button, and lists it by prefix", async () => {
    const user = userEvent.setup();
    render(<KeysPanel name="churn-api" mine />);
    expect(await screen.findByText("No keys yet.")).toBeTruthy();
    await user.type(screen.getByLabelText("Name"), "app");
    await user.type(screen.getByLabelText("Requests per minute (optional)"), "100");
    await user.click(screen.getByRole("button", { name: "Create key" }));

    expect(api.createDeploymentKey).toHaveBeenCalledWith(
      "churn-api",
      { name: "app", expires_at: null, rate_limit_per_minute: 100 },
      expect.anything(),
    );
    expect((await screen.findByText("dk_secret")).id).toBe("key-value");
    expect(screen.getByRole("button", { name: "Copy" })).toBeTruthy();
    const row = await screen.findByTestId("key-row");
    expect(row.textContent).toContain("100/min");
    expect(row.textContent).not.toContain("dk_secret");
    expect(within(row).getByTestId("key-state").textContent).toBe("active");
    expect((screen.getByLabelText("Name") as HTMLInputElement).value).toBe("");
  });

  it("revokes a key only once the dialog is confirmed", async () => {
    const user = userEvent.setup();
    stored = [key(1, "app")];
    render(<KeysPanel name="churn-api" mine />);
    await user.click(await screen.findByTestId("revoke-key"));
    const dialog = await screen.findByRole("alertdialog");
    expect(dialog.textContent).toContain("Revoke the key “app”?");
    await user.click(within(dialog).getByRole("button", { name: "Cancel" }));
    expect(api.revokeDeploymentKey).not.toHaveBeenCalled();

    await user.click(screen.getByTestId("revoke-key"));
    await user.click(within(await screen.findByRole("alertdialog")).getByRole("button", { name: "Revoke key" }));
    await waitFor(() => expect(screen.getByTestId("key-state").textContent).toBe("revoked"));
    expect(screen.queryByTestId("revoke-key")).toBeNull();
  });

  it("says the keys are the deployer's on a teammate's deployment", () => {
    render(<KeysPanel name="churn-api" mine={false} />);
    expect(screen.getByText("Only the deployer manages this deployment's keys.")).toBeTruthy();
    expect(api.deploymentKeys).not.toHaveBeenCalled();
  });
});

describe("MetricsPanel", () => {
  afterEach(() => {
    cleanup();
    vi.restoreAllMocks();
  });

  const stats = {
    requests: 3,
    errors_4xx: 1,
    errors_5xx: 0,
    rows: 4,
    latency_ms_p50: 1.5,
    latency_ms_p95: 12,
    latency_ms_p99: 20,
    batches: 2,
    batch_rows_histogram: [1, 0, 1],
    stage_ms_sum: {},
    stage_ms_avg: { parse: 0.1, queue: 0.2, inference: 1, serialise: 0.1 },
  };
  const traffic = {
    batch_rows_bounds: [1, 2],
    totals: { ...stats, versions: [{ ...stats, version_number: 2 }] },
    minutes: [],
  } as unknown as DeploymentTraffic;

  it("shows the hour's requests, errors, batch sizes and a row per version, and charts them", async () => {
    vi.spyOn(api, "deploymentTraffic").mockResolvedValue(traffic);
    render(<MetricsPanel name="churn-api" />);
    expect(screen.getByText("Loading traffic…")).toBeTruthy();
    await waitFor(() => expect(document.getElementById("metrics-requests")?.textContent).toBe("3"));
    expect(document.getElementById("metrics-errors")?.textContent).toBe("1 client (4xx), 0 server (5xx)");
    expect(screen.getAllByTestId("metrics-batch-bucket").map((b) => b.textContent)).toEqual(["1 row: 1", "over 2 rows: 1"]);
    expect(screen.getAllByTestId("metrics-version")[0]?.textContent).toContain("v2");
    await waitFor(() => expect(update).toHaveBeenCalledWith(traffic));
  });

  it("says why the traffic could not be read", async () => {
    vi.spyOn(api, "deploymentTraffic").mockRejectedValue(new Error("The server is unreachable."));
    render(<MetricsPanel name="churn-api" />);
    expect((await screen.findByRole("alert")).textContent).toBe("The server is unreachable.");
  });
});
