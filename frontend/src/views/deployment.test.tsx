// @vitest-environment happy-dom
import { act, cleanup, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError, api, type Deployment, type DeploymentEvent, type Me, type ModelVersion } from "../api";
import type { SocketHandlers } from "../jobSocket";
import { DeploymentPage } from "./deployment";

let socket: SocketHandlers<DeploymentEvent> | null = null;
vi.mock("../jobSocket", () => ({
  followDeployment: (_name: string, _signal: AbortSignal, handlers: SocketHandlers<DeploymentEvent>) => {
    socket = handlers;
  },
}));
vi.mock("./trafficCharts", () => ({
  trafficCharts: () => ({ el: document.createElement("div"), update: () => undefined }),
}));

const navigate = vi.fn();
vi.mock("../router", () => ({ navigate: (hash: string) => navigate(hash), DEFAULT_ROUTE: "#/datasets" }));

const deployment = (status: string, extra: Partial<Deployment> = {}): Deployment =>
  ({
    name: "churn-api",
    status,
    owner: "ada",
    model_version: 7,
    model_name: "churn",
    version: 3,
    alias: null,
    endpoint_url: "http://predictor/v1/deployments/churn-api/predict",
    error: "",
    created_at: null,
    ready_at: null,
    ...extra,
  }) as unknown as Deployment;

const version = {
  id: 7,
  model_name: "churn",
  version: 3,
  task_type: "binary",
  target: "churned",
  metrics: null,
  input_schema: [{ name: "age", type: "numeric" }],
} as unknown as ModelVersion;

describe("DeploymentPage", () => {
  const ctx = { params: { name: "churn-api" }, signal: new AbortController().signal };
  beforeEach(() => {
    socket = null;
    navigate.mockReset();
    vi.spyOn(api, "me").mockResolvedValue({ username: "ada" } as Me);
    vi.spyOn(api, "modelVersion").mockResolvedValue(version);
    vi.spyOn(api, "modelVersions").mockResolvedValue([version]);
    vi.spyOn(api, "deploymentTraffic").mockReturnValue(new Promise(() => undefined));
    vi.spyOn(api, "deploymentKeys").mockResolvedValue([]);
  });
  afterEach(() => {
    cleanup();
    vi.restoreAllMocks();
  });

  it("shows the status, endpoint and version, and follows the socket until it can predict", async () => {
    vi.spyOn(api, "deployment").mockResolvedValue(deployment("LOADING"));
    render(<DeploymentPage ctx={ctx} />);
    const status = await screen.findByText("LOADING");
    expect(status.id).toBe("deployment-status");
    expect(document.getElementById("deployment-endpoint")?.textContent).toBe(
      "http://predictor/v1/deployments/churn-api/predict",
    );
    expect(screen.getByRole("link", { name: "churn v3" }).getAttribute("href")).toBe("#/versions/7");
    const predict = (await screen.findByRole("button", { name: "Predict" })) as HTMLButtonElement;
    expect(predict.disabled).toBe(true);

    act(() => socket!.onEvent({ kind: "deployment", seq: 2, deployment: deployment("READY") }));
    expect(document.getElementById("deployment-status")?.textContent).toBe("READY");
    expect(predict.disabled).toBe(false);
  });

  it("shows why a deployment failed", async () => {
    vi.spyOn(api, "deployment").mockResolvedValue(deployment("FAILED", { error: "out of memory" }));
    render(<DeploymentPage ctx={ctx} />);
    expect((await screen.findByText("out of memory")).id).toBe("deployment-error");
  });

  it("undeploys, then deletes after the dialog is confirmed", async () => {
    const user = userEvent.setup();
    vi.spyOn(api, "deployment").mockResolvedValue(deployment("READY"));
    vi.spyOn(api, "undeploy").mockResolvedValue(deployment("UNDEPLOYED"));
    vi.spyOn(api, "deleteDeployment").mockResolvedValue(undefined);
    render(<DeploymentPage ctx={ctx} />);
    await user.click(await screen.findByRole("button", { name: "Undeploy" }));
    await waitFor(() => expect(document.getElementById("deployment-status")?.textContent).toBe("UNDEPLOYED"));
    expect((screen.getByRole("button", { name: "Undeploy" }) as HTMLButtonElement).disabled).toBe(true);

    await user.click(screen.getByRole("button", { name: "Delete" }));
    const dialog = await screen.findByRole("alertdialog");
    await user.click(within(dialog).getByRole("button", { name: "Delete deployment" }));
    expect(api.deleteDeployment).toHaveBeenCalledWith("churn-api", ctx.signal);
    await waitFor(() => expect(navigate).toHaveBeenCalledWith("#/deployments"));
  });

  it("is the not-found page for an unknown name", async () => {
    vi.spyOn(api, "deployment").mockRejectedValue(new ApiError(404, {}, "No deployment named churn-api."));
    render(<DeploymentPage ctx={ctx} />);
    expect((await screen.findByRole("heading", { name: "Not found" })).id).toBe("not-found");
  });

  it("hides a teammate's keys", async () => {
    vi.spyOn(api, "deployment").mockResolvedValue(deployment("READY", { owner: "bob" }));
    render(<DeploymentPage ctx={ctx} />);
    expect(await screen.findByText("Only the deployer manages this deployment's keys.")).toBeTruthy();
  });
});
