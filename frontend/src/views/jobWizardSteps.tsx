// The new-job wizard's budget step and its review (jobWizard.tsx holds the wizard itself).
import type { ReactNode } from "react";
import { Button } from "react-aria-components";
import type { Budgets, Dataset } from "../api";
import { Facts } from "../ui/common";
import { formatLimit } from "./jobCancel";
import { budgetOptions, ChoiceField, numberFieldBinder, PRIORITIES, QUEUES, TUNERS, WholeNumberField } from "./jobWizardFields";
import { requestBody, type StepId, type WizardState } from "./wizardRules";

export function BudgetStep({
  state,
  set,
  errors,
  limits,
  estimate,
  advancedOpen,
  setAdvancedOpen,
}: {
  state: WizardState;
  set: (change: Partial<WizardState>) => void;
  errors: Record<string, string>;
  limits: Budgets;
  estimate: string;
  advancedOpen: boolean;
  setAdvancedOpen: (open: boolean) => void;
}): ReactNode {
  const numberField = numberFieldBinder(state, errors, set);
  return (
    <>
      <ChoiceField
        id="job-budget"
        name="budget"
        label="Time budget"
        hint="the search fits as many trials and epochs in it as it can"
        error={errors.budget}
        value={state.budget}
        options={budgetOptions(limits)}
        // Exact seconds replace the preset (the API refuses both).
        isDisabled={state.maxSeconds.trim() !== ""}
        onChange={(budget) => set({ budget })}
      />
      <div className="fields">
        <WholeNumberField
          {...numberField("maxSeconds", "max_seconds")}
          label="Wall-clock seconds (replaces the preset)"
          min={10}
          max={604800}
          placeholder="use the preset"
        />
        <WholeNumberField
          {...numberField("maxTrials", "max_trials")}
          label="Max trials"
          min={1}
          max={limits.max_trials}
          placeholder={`no cap (up to ${limits.max_trials})`}
        />
        <WholeNumberField
          {...numberField("maxEpochs", "max_epochs")}
          label="Max epochs per trial"
          min={1}
          max={limits.max_epochs}
          placeholder={`early stopping (up to ${limits.max_epochs})`}
        />
        <ChoiceField
          id="job-queue"
          name="queue"
          label="Hardware"
          error={errors.queue}
          value={state.queue}
          options={QUEUES}
          onChange={(queue) => set({ queue })}
        />
      </div>
      <details id="job-advanced" open={advancedOpen} onToggle={(ev) => setAdvancedOpen(ev.currentTarget.open)}>
        <summary>Advanced: search options (defaults shown)</summary>
        <div className="fields">
          <ChoiceField
            id="job-tuner"
            name="tuner"
            label="Tuner"
            hint="default: random search, bayesian for forecasting"
            error={errors.tuner}
            value={state.tuner}
            options={TUNERS}
            onChange={(tuner) => set({ tuner })}
          />
          <WholeNumberField
            {...numberField("parallelTrials", "parallel_trials")}
            label="Trials at once"
            hint="default 1; random and bayesian tuners only"
            min={1}
            max={8}
            placeholder="1"
          />
          <ChoiceField
            id="job-priority"
            name="priority"
            label="Priority in the queue"
            hint="default: normal"
            error={errors.priority}
            value={state.priority}
            options={PRIORITIES}
            onChange={(priority) => set({ priority })}
          />
          <WholeNumberField
            {...numberField("seed", "seed")}
            label="Seed"
            hint="empty: drawn at random and recorded"
            min={0}
            max={2147483647}
            placeholder="random"
          />
        </div>
      </details>
      <p id="job-estimate-live" className="note" aria-live="polite">
        {estimate}
      </p>
    </>
  );
}

export function Review({
  ds,
  state,
  limits,
  onEdit,
}: {
  ds: Dataset;
  state: WizardState;
  limits: Budgets;
  onEdit: (to: StepId) => void;
}): ReactNode {
  const body = requestBody(state, ds);
  const seconds = body.max_seconds ?? limits.presets[state.budget];
  const optional = (value: unknown, none: string) => (value === undefined ? none : String(value));
  const edit = (to: StepId, label: string) => (
    <Button className="secondary small" data-edit={to} onPress={() => onEdit(to)}>
      {`Change ${label}`}
    </Button>
  );
  return (
    <>
      <Facts
        id="job-review-facts"
        pairs={[
          ["Dataset", <span id="review-dataset">{`${ds.name} (v${ds.version ?? 1})`}</span>],
          ["Target", <span id="review-target">{body.target || "—"}</span>],
          ["Task type", <span id="review-task-type">{body.task_type ?? "decided by the server"}</span>],
          ["Time budget", <span id="review-budget">{body.budget ? `${body.budget} (${formatLimit(seconds)})` : formatLimit(seconds)}</span>],
          ["Max trials", <span id="review-max-trials">{optional(body.max_trials, "no cap: as many as the time allows")}</span>],
          ["Max epochs per trial", optional(body.max_epochs, "no cap: early stopping decides")],
          ["Tuner", body.tuner ?? "default for the task"],
          ["Hardware", body.queue === "gpu" ? "GPU" : "CPU"],
          ["Trials at once", optional(body.parallel_trials, "1")],
          ["Seed", optional(body.seed, "random")],
        ]}
      />
      <div className="actions wrap">
        {edit("dataset", "dataset")}
        {edit("target", "target")}
        {edit("budget", "budget")}
      </div>
    </>
  );
}
