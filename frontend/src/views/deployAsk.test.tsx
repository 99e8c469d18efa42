// @vitest-environment happy-dom
import { cleanup, render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useState } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api, ApiError } from "../api";
import { ErrorMessage } from "../ui/common";
import { DeployButton } from "./deployAsk";
import { DetailTables, ScalarTable } from "./metrics";
import { deployment } from "./registryFixtures";

function Deploying({ signal }: { signal: AbortSignal }) {
  const [error, setError] = useState<unknown>(undefined);
  return (
    <>
      <DeployButton versionId={7} label="Deploy best model" id="deploy-button" signal={signal} onError={setError} />
      <ErrorMessage error={error} />
    </>
  );
}

// As the job page uses them: its best model's deploy button, and its test metrics.
describe("DeployButton and the metrics tables", () => {
  const controller = new AbortController();
  afterEach(() => {
    cleanup();
    vi.restoreAllMocks();
  });

  it("asks in a dialog when the version is already deployed, and reports other failures", async () => {
    const user = userEvent.setup();
    render(<Deploying signal={controller.signal} />);
    vi.spyOn(api, "deploy").mockRejectedValueOnce(new ApiError(409, { existing: deployment("best") }, "Conflict"));
    await user.click(screen.getByRole("button", { name: "Deploy best model" }));
    expect((await screen.findByRole("dialog")).id).toBe("deploy-question");
    expect(screen.getByRole("link", { name: "best" })).toBeTruthy();
    await user.click(screen.getByRole("button", { name: "Cancel" }));
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());

    vi.mocked(api.deploy).mockRejectedValueOnce(new Error("No room left."));
    await user.click(screen.getByRole("button", { name: "Deploy best model" }));
    expect((await screen.findByRole("alert")).textContent).toBe("No room left.");
  });

  it("draws the scalar metrics and a labelled confusion matrix", () => {
    const all = { accuracy: 0.5, confusion_matrix: [[1, 2], [0, 3]], labels: ["a", "b"] };
    render(
      <>
        <ScalarTable all={all} id="test-metrics" empty="none" />
        <DetailTables all={all} />
      </>,
    );
    expect(document.querySelector("#test-metrics td")!.textContent).toBe("0.5");
    expect(document.querySelectorAll("#confusion-matrix td.hit")).toHaveLength(2);
  });
});
