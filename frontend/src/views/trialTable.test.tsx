// @vitest-environment happy-dom
import { cleanup, render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it } from "vitest";
import type { TrialState } from "./jobLive";
import { TrialTable } from "./trialTable";

const trials: TrialState[] = Array.from({ length: 120 }, (_, i) => ({
  number: i + 1,
  status: "COMPLETED",
  score: (i * 37) % 101,
  epoch: 4,
  hyperparameters: { units: 32 },
  metrics: null,
}));
const shown = () => screen.getAllByTestId("trial-row").map((r) => Number(r.dataset.trial));

describe("TrialTable", () => {
  afterEach(cleanup);

  it("draws a page of 50, pages on, sorts by a header and marks the best", async () => {
    const user = userEvent.setup();
    render(<TrialTable trials={trials} best={1} />);
    expect(shown()).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(screen.getAllByTestId("trial-row")[0]!.className).toBe("best");
    expect(screen.getByText("Trials 1–50 of 120")).toBeTruthy();

    await user.click(screen.getByRole("button", { name: "Next" }));
    expect(shown()[0]).toBe(51);
    await user.click(screen.getByRole("button", { name: "Next" }));
    expect(screen.getByText("Trials 101–120 of 120")).toBeTruthy();
    expect((screen.getByRole("button", { name: "Next" }) as HTMLButtonElement).disabled).toBe(true);

    // Sorting goes back to the first page, lowest loss first; again, highest first.
    await user.click(screen.getByRole("button", { name: /Score/ }));
    const scores = shown().map((n) => trials[n - 1]!.score!);
    expect(scores).toEqual([...scores].sort((a, b) => a - b));
    expect(scores[0]).toBe(0);
    expect(screen.getByRole("columnheader", { name: /Score/ }).getAttribute("aria-sort")).toBe("ascending");
    await user.click(screen.getByRole("button", { name: /Score/ }));
    expect(trials[shown()[0]! - 1]!.score).toBe(100);
  });

  it("says there are no trials yet, with no pager", () => {
    render(<TrialTable trials={[]} best={null} />);
    expect(screen.getByText("No trials yet.")).toBeTruthy();
    expect(screen.queryByRole("navigation")).toBeNull();
  });
});
