// @vitest-environment happy-dom
import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api, type Comparison } from "../api";
import { ComparePage } from "./compare";

const same = <T,>(a: T, b: T) => ({ a, b, same: a === b });
const comparison = (changed: boolean): Comparison =>
  ({
    a: { id: 1, version: 1, model_name: "diagnosis" },
    b: { id: 2, version: 2, model_name: "diagnosis" },
    metrics: [{ name: "accuracy", a: 0.9, b: 0.95, delta: 0.05, same: false }],
    hyperparameters: [],
    signature: {
      inputs_only_in_a: changed ? ["age"] : [],
      inputs_only_in_b: [],
      inputs_changed: [],
      target: same("y", "y"),
      task_type: same("binary", "binary"),
      classes: same(null, null),
    },
    dataset: same(5, 5),
  }) as unknown as Comparison;

describe("ComparePage", () => {
  afterEach(() => {
    cleanup();
    vi.restoreAllMocks();
  });
  const ctx = { params: { a: "1", b: "2" }, signal: new AbortController().signal };

  it("puts the two versions side by side", async () => {
    vi.spyOn(api, "compare").mockResolvedValue(comparison(false));
    render(<ComparePage ctx={ctx} />);
    expect((await screen.findByRole("heading", { level: 1 })).textContent).toBe("diagnosis v1 vs diagnosis v2");
    const cells = [...document.querySelectorAll('#compare-metrics tr[data-name="accuracy"] td')].map((c) => c.textContent);
    expect(cells).toEqual(["0.9", "0.95", "+0.05"]);
    expect(screen.getByText("None recorded.")).toBeTruthy();
    expect(document.getElementById("compare-signature")!.textContent).toBe("Same inputs, target and classes.");
  });

  it("names what changed in the signature, and says why a comparison failed", async () => {
    vi.spyOn(api, "compare").mockResolvedValueOnce(comparison(true));
    render(<ComparePage ctx={ctx} />);
    expect(await screen.findByText("input “age” only in v1")).toBeTruthy();
    cleanup();
    vi.mocked(api.compare).mockRejectedValueOnce(new Error("Not the same model."));
    render(<ComparePage ctx={ctx} />);
    expect((await screen.findByRole("alert")).textContent).toBe("Not the same model.");
  });
});
