// @vitest-environment happy-dom
import { cleanup, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError, api, type Budgets, type Dataset, type DatasetListItem, type Job } from "../api";
import * as router from "../router";
import { JobWizardPage } from "./jobWizard";
import { DEFAULT_LIMITS } from "./wizardRules";

function dataset(extra: Partial<Dataset> = {}): Dataset {
  return {
    id: 7,
    name: "cancer",
    kind: "tabular",
    version: 1,
    status: "READY",
    n_rows: 569,
    n_columns: 3,
    columns: [
      { name: "id", type: "identifier" },
      { name: "radius", type: "numeric" },
      { name: "diagnosis", type: "categorical" },
    ],
    profile: {
      suggested_target: "diagnosis",
      suggested_task_type: "binary",
      columns: [
        { name: "id", type: "identifier", distinct: 569 },
        { name: "radius", type: "numeric", distinct: 400 },
        { name: "diagnosis", type: "categorical", distinct: 2 },
      ],
    },
    ...extra,
  } as unknown as Dataset;
}

const limits: Budgets = { ...DEFAULT_LIMITS, presets: { quick: 60, standard: 180, thorough: 600 } };

/** The value a React Aria Select holds: its hidden native select's, named as the API field. */
const valueOf = (name: string) => document.querySelector<HTMLSelectElement>(`select[name="${name}"]`)!.value;
/** The Select's button, which has the control's id. */
const trigger = (id: string) => document.getElementById(id) as HTMLButtonElement;

describe("JobWizardPage", { timeout: 30_000 }, () => {
  beforeEach(() => {
    sessionStorage.clear();
    history.replaceState(null, "", "#/jobs/new");
    vi.spyOn(api, "datasets").mockResolvedValue([
      { id: 7, name: "cancer", version: 1, status: "READY" } as DatasetListItem,
      { id: 8, name: "pending", version: 1, status: "PROFILING" } as DatasetListItem,
    ]);
    vi.spyOn(api, "jobBudgets").mockResolvedValue(limits);
    vi.spyOn(api, "dataset").mockResolvedValue(dataset());
    vi.spyOn(router, "navigate").mockImplementation(() => {});
  });
  afterEach(() => {
    cleanup();
    vi.restoreAllMocks();
  });

  const ctx = (params: Record<string, string> = {}) => ({ params, signal: new AbortController().signal });

  it("asks for a dataset, then fills in the profile's target and task type", async () => {
    const user = userEvent.setup();
    render(<JobWizardPage ctx={ctx()} />);
    expect(await screen.findByRole("heading", { name: "Step 1 of 4: Dataset" })).toBeTruthy();

    await user.click(screen.getByRole("button", { name: "Next" }));
    expect(document.getElementById("job-dataset-error")!.textContent).toBe("Choose a dataset.");
    expect(trigger("job-dataset").getAttribute("aria-invalid")).toBe("true");
    expect(trigger("job-dataset").getAttribute("aria-describedby")).toContain("job-dataset-error");
    expect(document.activeElement).toBe(trigger("job-dataset"));

    // Only READY datasets are offered.
    await user.click(trigger("job-dataset"));
    expect(screen.queryByRole("option", { name: /pending/ })).toBeNull();
    await user.click(await screen.findByRole("option", { name: "cancer (v1)" }));
    await waitFor(() => expect(document.getElementById("job-dataset-facts")!.textContent).toContain("suggested target: diagnosis"));
    expect(trigger("job-dataset").getAttribute("aria-invalid")).toBeNull();

    await user.click(screen.getByRole("button", { name: "Next" }));
    const heading = screen.getByRole("heading", { name: "Step 2 of 4: Target and task" });
    await waitFor(() => expect(document.activeElement).toBe(heading));
    expect(location.hash).toBe("#/jobs/new/7/target");
    expect(valueOf("target")).toBe("diagnosis");
    expect(valueOf("task_type")).toBe("binary");
    expect(document.getElementById("job-target-type")!.textContent).toBe("type: categorical, 2 distinct");
    expect(document.querySelector('select[name="task_type"] option[value="binary"]')!.textContent).toContain("(suggested)");

    // Another target gets its own column's suggestion; forecasting shows its own options.
    await user.click(trigger("job-target"));
    await user.click(await screen.findByRole("option", { name: "radius" }));
    expect(valueOf("task_type")).toBe("regression");
    await user.click(trigger("job-task-type"));
    await user.click(await screen.findByRole("option", { name: "forecasting (time series)" }));
    expect(document.getElementById("job-forecast-options")!.hidden).toBe(false);
    expect(document.getElementById("job-multilabel-options")!.hidden).toBe(true);
  });

  it("keeps what was entered on Back, estimates on review, and creates the job", async () => {
    const user = userEvent.setup();
    vi.spyOn(api, "createJob").mockResolvedValue({ id: 42 } as Job);
    render(<JobWizardPage ctx={ctx({ dataset: "7" })} />);
    expect(await screen.findByRole("heading", { name: "Step 2 of 4: Target and task" })).toBeTruthy();
    expect(valueOf("target")).toBe("diagnosis");
    await user.click(screen.getByRole("button", { name: "Next" }));

    expect(document.querySelector('select[name="budget"] option[value="quick"]')!.textContent).toBe("Quick — 1 min");
    await user.type(screen.getByLabelText("Max trials"), "2");
    await user.type(screen.getByLabelText("Max epochs per trial"), "3");
    await user.click(screen.getByText("Advanced: search options (defaults shown)"));
    await user.type(screen.getByLabelText("Seed"), "4242");
    await user.click(screen.getByRole("button", { name: "Next" }));

    expect(document.getElementById("job-estimate")!.textContent).toBe(
      "About 2 trials of up to 3 epochs on 569 rows (341 to train), finishing in under a minute.",
    );
    expect(document.getElementById("review-target")!.textContent).toBe("diagnosis");
    await user.click(screen.getByRole("button", { name: "Back" }));
    expect((screen.getByLabelText("Max trials") as HTMLInputElement).value).toBe("2");
    await user.click(screen.getByRole("button", { name: "Next" }));

    const create = screen.getByRole("button", { name: "Create job" });
    expect(create.id).toBe("job-submit");
    await user.click(create);
    expect(api.createJob).toHaveBeenCalledWith(
      { dataset: 7, target: "diagnosis", task_type: "binary", budget: "standard", max_trials: 2, max_epochs: 3, queue: "cpu", seed: 4242 },
      expect.anything(),
    );
    expect(router.navigate).toHaveBeenCalledWith("#/jobs/42");
    expect(sessionStorage.getItem("job-wizard-draft")).toBeNull();
  });

  it("puts the server's refusal of a field beside it, on its step, and a reload keeps the values", async () => {
    const user = userEvent.setup();
    vi.spyOn(api, "createJob").mockRejectedValue(
      new ApiError(400, { fields: { parallel_trials: ["Only random and bayesian tuners run trials at once."] } }, "Bad request"),
    );
    render(<JobWizardPage ctx={ctx({ dataset: "7" })} />);
    await user.click(await screen.findByRole("button", { name: "Next" }));
    await user.click(screen.getByText("Advanced: search options (defaults shown)"));
    await user.click(trigger("job-tuner"));
    await user.click(await screen.findByRole("option", { name: "Hyperband" }));
    const parallel = screen.getByLabelText("Trials at once") as HTMLInputElement;
    await user.clear(parallel);
    await user.type(parallel, "2");
    await user.click(screen.getByRole("button", { name: "Next" }));
    expect(location.hash).toBe("#/jobs/new/7/review");

    // A reload of the review finds the draft.
    cleanup();
    render(<JobWizardPage ctx={ctx({ dataset: "7", step: "review" })} />);
    expect(await screen.findByRole("heading", { name: "Step 4 of 4: Review and create" })).toBeTruthy();
    await user.click(screen.getByRole("button", { name: "Create job" }));

    const error = await screen.findByText("Only random and bayesian tuners run trials at once.");
    expect(error.id).toBe("job-parallel-trials-error");
    expect(document.getElementById("wizard-step-budget")!.hidden).toBe(false);
    expect(document.getElementById("wizard-step-review")!.hidden).toBe(true);
    const field = screen.getByLabelText("Trials at once");
    expect(field.getAttribute("aria-invalid")).toBe("true");
    await waitFor(() => expect(document.activeElement).toBe(field));
    expect(valueOf("tuner")).toBe("hyperband");
  });

  it("says when no dataset is ready, and when the dataset in the address cannot be read", async () => {
    vi.mocked(api.datasets).mockResolvedValue([]);
    render(<JobWizardPage ctx={ctx()} />);
    const facts = await screen.findByText(/Upload a dataset and wait for its profile first/);
    expect(within(facts).getByRole("link", { name: "Datasets" }).getAttribute("href")).toBe("#/datasets");
    cleanup();

    vi.mocked(api.dataset).mockRejectedValue(new ApiError(404, null, "Not found."));
    render(<JobWizardPage ctx={ctx({ dataset: "99", step: "budget" })} />);
    expect(await screen.findByText("You have no dataset with id 99.")).toBeTruthy();
    expect(document.getElementById("wizard-step-dataset")!.hidden).toBe(false);
  });
});
