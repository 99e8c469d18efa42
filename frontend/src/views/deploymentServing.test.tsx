// @vitest-environment happy-dom
import { cleanup, render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError, api, type Deployment, type ModelVersion } from "../api";
import { ServingPanel } from "./deploymentServing";

const version = (id: number, n: number, accuracy: number) =>
  ({ id, model: 7, version: n, metrics: { accuracy, confusion_matrix: [[1]] } }) as unknown as ModelVersion;
const deployment = (changes: Partial<Deployment> = {}) =>
  ({
    name: "wide",
    status: "READY",
    model_version: 11,
    version: 1,
    canary_version: null,
    canary_version_number: null,
    canary_percent: null,
    curl_example: "curl -H 'Authorization: Token $TOKEN' https://x/api/v1/deployments/wide/predict/",
    ...changes,
  }) as Deployment;

describe("ServingPanel", () => {
  const signal = new AbortController().signal;
  beforeEach(() => {
    vi.spyOn(api, "modelVersion").mockResolvedValue(version(11, 1, 0.9));
    vi.spyOn(api, "modelVersions").mockResolvedValue([version(11, 1, 0.9), version(12, 2, 0.95), version(13, 3, 0.97)]);
  });
  afterEach(() => {
    cleanup();
    vi.restoreAllMocks();
  });

  it("swaps to the newest other version, and starts a canary with its share", async () => {
    const user = userEvent.setup();
    const changed = vi.fn();
    vi.spyOn(api, "swapDeployment").mockResolvedValue(deployment({ model_version: 13, version: 3 }));
    vi.spyOn(api, "setCanary").mockResolvedValue(deployment({ canary_version: 12, canary_version_number: 2, canary_percent: 25 }));
    render(<ServingPanel d={deployment()} signal={signal} onChange={changed} />);
    expect(screen.getByText("v1 answers every request.")).toBeTruthy();
    expect(await screen.findAllByRole("button", { name: /v3 \(accuracy 0\.97\)/ })).toHaveLength(2);

    await user.click(screen.getByRole("button", { name: "Swap" }));
    expect(api.swapDeployment).toHaveBeenCalledWith("wide", "13", signal);
    expect(changed).toHaveBeenCalledWith(expect.objectContaining({ version: 3 }));

    await user.click(screen.getByRole("button", { name: /Canary version/ }));
    await user.click(await screen.findByRole("option", { name: /^v2/ }));
    const share = screen.getByLabelText("Share of requests (%)");
    await user.clear(share);
    await user.type(share, "25");
    await user.click(screen.getByRole("button", { name: "Start canary" }));
    expect(api.setCanary).toHaveBeenCalledWith("wide", "12", 25, signal);
  });

  it("promotes or rolls back a running canary, and says why a change was refused", async () => {
    const user = userEvent.setup();
    vi.spyOn(api, "rollbackCanary").mockRejectedValue(new ApiError(409, null, "The deployment is not serving."));
    vi.spyOn(api, "promoteCanary").mockResolvedValue(deployment({ model_version: 12, version: 2 }));
    const changed = vi.fn();
    render(
      <ServingPanel
        d={deployment({ canary_version: 12, canary_version_number: 2, canary_percent: 25 })}
        signal={signal}
        onChange={changed}
      />,
    );
    expect(screen.getByText("v1 answers 75%; canary v2 answers 25%.")).toBeTruthy();
    await user.click(screen.getByRole("button", { name: "Roll back the canary" }));
    expect((await screen.findByRole("alert")).textContent).toBe("The deployment is not serving.");
    await user.click(screen.getByRole("button", { name: "Promote v2" }));
    await waitFor(() => expect(changed).toHaveBeenCalledWith(expect.objectContaining({ version: 2 })));
    expect(screen.queryByRole("alert")).toBeNull();
    // The curl call is shown to copy.
    expect(document.getElementById("deployment-curl")!.textContent).toContain("/deployments/wide/predict/");
  });
});
