// @vitest-environment happy-dom
import { cleanup, render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError, api, type ModelVersion, type PredictResponse } from "../api";
import { PredictForm } from "./predict";

const version = {
  id: 4,
  model_name: "churn",
  version: 2,
  task_type: "binary",
  target: "churned",
  input_schema: [
    { name: "age", type: "numeric" },
    { name: "plan", type: "categorical", values: ["basic", "pro"] },
    { name: "note", type: "text" },
  ],
} as unknown as ModelVersion;

describe("PredictForm", () => {
  afterEach(() => {
    cleanup();
    vi.restoreAllMocks();
  });

  it("has one labelled field per input, and Predict only while the deployment can serve", () => {
    const { rerender } = render(<PredictForm deploymentName="d" version={version} ready={false} />);
    expect(screen.getByLabelText("age").getAttribute("type")).toBe("number");
    expect(screen.getByLabelText("note").dataset.column).toBe("note");
    expect(screen.getByRole("button", { name: /plan/ }).dataset.column).toBe("plan");
    expect((screen.getByRole("button", { name: "Predict" }) as HTMLButtonElement).disabled).toBe(true);
    rerender(<PredictForm deploymentName="d" version={version} ready />);
    expect((screen.getByRole("button", { name: "Predict" }) as HTMLButtonElement).disabled).toBe(false);
  });

  it("sends the entries, blanks as missing, and shows the predicted label with its probabilities", async () => {
    const user = userEvent.setup();
    const predict = vi
      .spyOn(api, "predict")
      .mockResolvedValue({ predictions: [{ label: "yes", probabilities: { yes: 0.8, no: 0.2 } }] } as PredictResponse);
    render(<PredictForm deploymentName="churn-api" version={version} ready />);
    await user.type(screen.getByLabelText("age"), "42");
    await user.click(screen.getByRole("button", { name: /plan/ }));
    await user.click(await screen.findByRole("option", { name: "pro" }));
    await user.click(screen.getByRole("button", { name: "Predict" }));

    expect(predict).toHaveBeenCalledWith("churn-api", [{ age: 42, plan: "pro", note: null }], undefined);
    const result = document.getElementById("prediction-result")!;
    await waitFor(() => expect(result.querySelector(".label")?.textContent).toBe("yes"));
    expect([...result.querySelectorAll(".probabilities tr")].map((tr) => tr.getAttribute("data-class"))).toEqual(["yes", "no"]);
  });

  it("says what the predictor refused and marks the field it names", async () => {
    const user = userEvent.setup();
    vi.spyOn(api, "predict").mockRejectedValue(new ApiError(400, { detail: "age is out of range", field: "age" }, "age is out of range"));
    render(<PredictForm deploymentName="d" version={version} ready />);
    await user.click(screen.getByRole("button", { name: "Predict" }));
    expect((await screen.findByRole("alert")).textContent).toBe("age is out of range");
    expect(screen.getByLabelText("age").getAttribute("aria-invalid")).toBe("true");
    expect(screen.getByLabelText("note").getAttribute("aria-invalid")).toBeNull();
  });

  it("shows a regression's value and a forecast's steps", async () => {
    const user = userEvent.setup();
    vi.spyOn(api, "predict").mockResolvedValueOnce({ predictions: [12.5] } as PredictResponse);
    const { container } = render(<PredictForm deploymentName="d" version={version} ready />);
    await user.click(screen.getByRole("button", { name: "Predict" }));
    expect((await screen.findByText("Predicted value:", { exact: false })).dataset.kind).toBe("regression");

    vi.mocked(api.predict).mockResolvedValueOnce({ predictions: [[1, 2, 3]] } as unknown as PredictResponse);
    await user.click(screen.getByRole("button", { name: "Predict" }));
    await waitFor(() => expect(container.querySelectorAll("ol.forecast li")).toHaveLength(3));
  });
});
