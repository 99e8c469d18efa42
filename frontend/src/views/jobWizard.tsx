// The new-job wizard (#/jobs/new[/<dataset>[/<step>]]): dataset, target and task, budget and
// hardware, then a review with what the budget buys. Every step stays in the page, hidden when
// not current, and the values live in one state, so Back and Next keep what was entered; the
// hash keeps the step and a session draft the values, so a reload does not lose the wizard.
import { useEffect, useRef, useState, type FormEvent, type ReactNode } from "react";
import { Button } from "react-aria-components";
import { ApiError, api, type Budgets, type Dataset, type DatasetListItem } from "../api";
import { isAbort, messageOf } from "../dom";
import { navigate } from "../router";
import { ErrorMessage } from "../ui/common";
import { reactView, type PageProps } from "../ui/page";
import { useLoad } from "../ui/useLoad";
import {
  ChoiceField,
  datasetFacts,
  DELIMITERS,
  targetOptions,
  targetType,
  taskTypeOptions,
  numberFieldBinder,
  WholeNumberField,
} from "./jobWizardFields";
import {
  DEFAULT_LIMITS,
  describeEstimate,
  estimateFor,
  firstStepWithError,
  IMAGES_PER_SECOND,
  initialState,
  isStep,
  jobPath,
  requestBody,
  ROWS_PER_SECOND,
  STEPS,
  stepOfField,
  suggestTarget,
  suggestTaskType,
  targetColumns,
  validateStep,
  type StepId,
  type WizardState,
} from "./wizardRules";
import { BudgetStep, Review } from "./jobWizardSteps";
import "./wizard.css";

const DRAFT_KEY = "job-wizard-draft";
// The fields under "Advanced": a message about one of them opens it.
const ADVANCED = new Set(["tuner", "parallel_trials", "priority", "seed"]);

function loadDraft(dataset: string | undefined): WizardState | null {
  try {
    const draft = JSON.parse(sessionStorage.getItem(DRAFT_KEY) ?? "null") as WizardState | null;
    return draft && (!dataset || draft.dataset === dataset) ? { ...initialState(), ...draft } : null;
  } catch {
    return null;
  }
}

function estimateSentence(ds: Dataset, state: WizardState, limits: Budgets): string {
  const e = estimateFor(ds, state, limits);
  const gpu = state.queue === "gpu" ? " The rule's rates are for CPU workers; a GPU is usually faster on large data." : "";
  return describeEstimate(e, e.rows, e.images) + gpu;
}

function fieldsOf(err: ApiError): Record<string, string[]> {
  const body = err.body as { fields?: unknown } | null;
  const fields = body && typeof body === "object" ? body.fields : null;
  return fields && typeof fields === "object" ? (fields as Record<string, string[]>) : {};
}

export function JobWizardPage({ ctx }: PageProps): ReactNode {
  // Only READY datasets can train; the list has no profiles, the chosen one is read in full.
  const loaded = useLoad(
    (signal) =>
      Promise.all([
        api.datasets(signal),
        api.jobBudgets(signal).catch((): Budgets => DEFAULT_LIMITS), // the names alone still make a valid request
      ]),
    [],
  );
  return (
    <>
      <p className="crumbs">
        <a href="#/jobs">← Jobs</a>
      </p>
      <h1>New training job</h1>
      {loaded.state === "ready" ? (
        <Wizard ctx={ctx} datasets={loaded.data[0].filter((d) => d.status === "READY")} limits={loaded.data[1]} />
      ) : loaded.state === "failed" ? (
        <ErrorMessage error={loaded.error} />
      ) : (
        <p className="muted">Loading…</p>
      )}
    </>
  );
}

type Focus = "heading" | "error" | "none";

function Wizard({ ctx, datasets, limits }: PageProps & { datasets: DatasetListItem[]; limits: Budgets }): ReactNode {
  const { params, signal } = ctx;
  // A reload (the step in the address) finds its draft; a fresh start begins from suggestions.
  const [restored] = useState(() => (params.dataset && params.step ? loadDraft(params.dataset) : null));
  const [state, setState] = useState<WizardState>(() => restored ?? initialState(params.dataset ?? ""));
  const [ds, setDs] = useState<Dataset | null>(null);
  const [reading, setReading] = useState(false);
  const [started, setStarted] = useState(false);
  const [step, setStep] = useState<StepId>(() => (isStep(params.step) ? params.step : state.dataset ? "target" : "dataset"));
  const [focus, setFocus] = useState<{ to: Focus; n: number }>({ to: "none", n: 0 });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [reviewError, setReviewError] = useState<unknown>(undefined);
  const [advancedOpen, setAdvancedOpen] = useState(false);
  const [creating, setCreating] = useState(false);
  // A task type the person chose stays when they change the target; a suggestion follows it.
  const taskChosen = useRef(false);
  // Only the latest dataset read may fill the form.
  const reads = useRef(0);
  const form = useRef<HTMLFormElement>(null);

  const set = (change: Partial<WizardState>) => setState((s) => ({ ...s, ...change }));
  const numberField = numberFieldBinder(state, errors, set);

  function show(to: StepId, how: Focus = "heading"): void {
    setStep(to);
    setFocus((f) => ({ to: how, n: f.n + 1 }));
  }

  /** Shows each message beside its field; what no field holds goes to the review's slot. */
  function showFieldErrors(messages: Record<string, string[] | string>): string[] {
    const placed: Record<string, string> = {};
    const loose: string[] = [];
    for (const [name, value] of Object.entries(messages)) {
      const text = Array.isArray(value) ? value.join(" ") : value;
      if (stepOfField(name) === "review") loose.push(text);
      else placed[name] = text;
    }
    setErrors(placed);
    // A message inside the closed "Advanced" part would be out of sight.
    if (Object.keys(placed).some((name) => ADVANCED.has(name))) setAdvancedOpen(true);
    setReviewError(loose.length ? loose.join(" ") : undefined);
    return Object.keys(placed);
  }

  /** Reads the chosen dataset and sets the target and task to its suggestions (or the draft's). */
  async function chooseDataset(id: string, keep: WizardState | null): Promise<Dataset | null | undefined> {
    const read = ++reads.current;
    setDs(null);
    set({ dataset: id });
    if (!id) {
      setReading(false);
      return null;
    }
    setReading(true);
    let found: Dataset;
    try {
      found = await api.dataset(id, signal);
    } catch (err) {
      if (read !== reads.current || isAbort(err)) return undefined;
      setReading(false);
      showFieldErrors({ dataset: err instanceof ApiError && err.status === 404 ? `You have no dataset with id ${id}.` : messageOf(err) });
      return null;
    }
    if (read !== reads.current) return undefined;
    setReading(false);
    if (found.status !== "READY") {
      showFieldErrors({ dataset: `“${found.name}” is ${found.status}; a job needs a READY dataset.` });
      return null;
    }
    const target = keep?.target && targetColumns(found).some((c) => c.name === keep.target) ? keep.target : suggestTarget(found);
    taskChosen.current = !!keep && keep.taskType !== suggestTaskType(found, target);
    setDs(found);
    setState((s) => (keep ? { ...s, ...keep, dataset: id, target } : { ...s, dataset: id, target, taskType: suggestTaskType(found, target) }));
    return found;
  }

  // The dataset in the address (or the draft's) is read first; a step after the dataset needs
  // one, so a deep link to a missing or unready one starts there.
  useEffect(() => {
    let live = true;
    void chooseDataset(state.dataset, restored).then((found) => {
      if (!live || found === undefined) return;
      if (!found) setStep("dataset");
      setStarted(true);
    });
    return () => {
      live = false;
    };
    // Once, on arrival: later choices go through the dataset's control.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  // The draft, so that a reload keeps what was entered.
  useEffect(() => {
    if (!started) return;
    try {
      sessionStorage.setItem(DRAFT_KEY, JSON.stringify(state));
    } catch {
      // private mode: the wizard still works, a reload just starts over
    }
  }, [started, state]);

  // The step in the address, without a hashchange (which would draw the view afresh).
  useEffect(() => {
    if (!started) return;
    const path = state.dataset ? `#/jobs/new/${encodeURIComponent(state.dataset)}/${step}` : "#/jobs/new";
    if (location.hash !== path) history.replaceState(null, "", path);
    // Only a step change moves the address, as a choice of dataset alone did not.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [started, step, focus.n]);

  // Focus follows the step: its heading, or the first field to fix.
  useEffect(() => {
    if (focus.to === "heading") document.getElementById(`wizard-step-${step}-heading`)?.focus();
    else if (focus.to === "error") {
      document.getElementById(`wizard-step-${step}`)?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [focus.n]);

  async function submit(ev: FormEvent<HTMLFormElement>): Promise<void> {
    ev.preventDefault();
    setErrors({});
    setReviewError(undefined);
    if (step !== "review") {
      const problems = validateStep(step, state, limits);
      if (step === "dataset" && !problems.dataset && !ds) problems.dataset = "The dataset could not be read; choose another.";
      if (Object.keys(problems).length) {
        showFieldErrors(problems);
        show(step, "error");
        return;
      }
      show(STEPS[STEPS.findIndex((s) => s.id === step) + 1]!.id);
      return;
    }
    if (!ds) return show("dataset");
    setCreating(true);
    try {
      const job = await api.createJob(requestBody(state, ds), signal);
      sessionStorage.removeItem(DRAFT_KEY);
      navigate(jobPath(job.id));
    } catch (err) {
      if (isAbort(err)) return;
      setCreating(false);
      // The API's one error shape: `fields` names each request field it refused.
      const placed = err instanceof ApiError && err.status === 400 ? showFieldErrors(fieldsOf(err)) : [];
      if (placed.length) show(firstStepWithError(placed), "error");
      else setReviewError(err);
    }
  }

  if (!started) return <p className="muted">{reading ? "Reading the dataset…" : "Loading…"}</p>;

  const index = STEPS.findIndex((s) => s.id === step);
  const datasetOptions: Array<[string, string]> = datasets.map((d) => [String(d.id), `${d.name} (v${d.version ?? 1})`]);
  // A dataset reached by its link may be missing from the list (a newer page of it).
  if (ds && !datasetOptions.some(([id]) => id === String(ds.id))) datasetOptions.push([String(ds.id), ds.name]);
  const estimate = ds ? estimateSentence(ds, state, limits) : "";

  let facts: ReactNode = "";
  if (reading) facts = "Reading the dataset…";
  else if (ds) facts = datasetFacts(ds);
  else if (!datasets.length && !state.dataset) {
    facts = (
      <>
        Upload a dataset and wait for its profile first: <a href="#/datasets">Datasets</a>.
      </>
    );
  }

  const bodies: Record<StepId, ReactNode> = {
    dataset: (
      <>
        <ChoiceField
          id="job-dataset"
          name="dataset"
          label="Dataset"
          hint="only datasets that are profiled and READY"
          error={errors.dataset}
          value={state.dataset}
          options={datasetOptions}
          placeholder={datasets.length ? "Choose a dataset…" : "No dataset is ready yet"}
          onChange={(id) => {
            setErrors({});
            setReviewError(undefined);
            void chooseDataset(id, null);
          }}
        />
        <p id="job-dataset-facts" className="muted">
          {facts}
        </p>
      </>
    ),
    target: (
      <>
        <ChoiceField
          id="job-target"
          name="target"
          label="Target column (what to predict)"
          hint={<span id="job-target-type">{targetType(ds, state.target)}</span>}
          error={errors.target}
          value={state.target}
          options={targetOptions(ds)}
          isDisabled={ds?.kind === "image"} // implied by the archive
          onChange={(target) => {
            if (!ds) return;
            set({ target, taskType: taskChosen.current ? state.taskType : suggestTaskType(ds, target) });
          }}
        />
        <ChoiceField
          id="job-task-type"
          name="task_type"
          label="Task type"
          error={errors.task_type}
          value={state.taskType}
          options={taskTypeOptions(ds, state.target)}
          onChange={(taskType) => {
            taskChosen.current = true;
            set({ taskType });
          }}
        />
        {/* Only the chosen task's own options are shown. */}
        <div id="job-multilabel-options" hidden={state.taskType !== "multilabel"}>
          <ChoiceField
            id="job-label-delimiter"
            name="label_delimiter"
            label="Label delimiter"
            error={errors.label_delimiter}
            value={state.labelDelimiter}
            options={DELIMITERS as Array<[WizardState["labelDelimiter"], string]>}
            onChange={(labelDelimiter) => set({ labelDelimiter })}
          />
        </div>
        <div className="fields" id="job-forecast-options" hidden={state.taskType !== "forecasting"}>
          <WholeNumberField
            {...numberField("horizon", "horizon")}
            label="Horizon (steps ahead)"
            min={1}
            max={365}
            placeholder="1"
          />
          <WholeNumberField
            {...numberField("lookback", "lookback")}
            label="Lookback (rows)"
            hint="empty: searched"
            min={1}
            max={512}
            placeholder="searched"
          />
        </div>
      </>
    ),
    budget: (
      <BudgetStep
        state={state}
        set={set}
        errors={errors}
        limits={limits}
        estimate={estimate}
        advancedOpen={advancedOpen}
        setAdvancedOpen={setAdvancedOpen}
      />
    ),
    review: (
      <>
        <div id="job-review">{ds && step === "review" ? <Review ds={ds} state={state} limits={limits} onEdit={(to) => show(to)} /> : null}</div>
        <h3>What the budget buys</h3>
        <p id="job-estimate" className="note">
          {step === "review" ? estimate : ""}
        </p>
        <details id="job-estimate-rule">
          <summary>How this is estimated</summary>
          <p className="muted">
            {`A simple rule from the measured figures in docs/benchmarks.md (2 CPU cores), not a promise: ` +
              `${ROWS_PER_SECOND.toLocaleString("en")} training rows a second (${IMAGES_PER_SECOND.toLocaleString("en")} images), ` +
              `60% of the rows train, the search gets 75% of the time (the rest: refit, test scores, saving), and a trial ` +
              `without an epoch cap is counted as twice its early-stopping patience. A GPU, parallel trials waiting for free ` +
              `workers, or a busy machine change it.`}
          </p>
        </details>
        <p className="muted">
          Metric: the API takes none; every search minimises the validation loss and the job reports its test metrics.
        </p>
        <ErrorMessage error={reviewError} />
      </>
    ),
  };

  return (
    <form id="job-wizard" ref={form} className="card wizard" noValidate aria-label="New training job" onSubmit={(ev) => void submit(ev)}>
      <ol className="wizard-progress" aria-label="Steps">
        {STEPS.map(({ id, title }, at) => (
          <li key={id} data-step={id} aria-current={at === index ? "step" : undefined} className={at < index ? "done" : undefined}>
            {title}
          </li>
        ))}
      </ol>
      {STEPS.map(({ id, title }, at) => (
        <section key={id} id={`wizard-step-${id}`} className="wizard-step" aria-labelledby={`wizard-step-${id}-heading`} hidden={id !== step}>
          <h2 id={`wizard-step-${id}-heading`} tabIndex={-1}>{`Step ${at + 1} of ${STEPS.length}: ${title}`}</h2>
          {bodies[id]}
        </section>
      ))}
      <div className="actions">
        {index > 0 ? (
          <Button id="wizard-back" className="secondary" onPress={() => show(STEPS[index - 1]!.id)}>
            Back
          </Button>
        ) : null}
        {/* Keys keep Next and Create apart: reused, a button would keep its first id. */}
        {step !== "review" ? (
          <Button key="next" type="submit" id="wizard-next">
            Next
          </Button>
        ) : (
          <Button key="create" type="submit" id="job-submit" isDisabled={creating}>
            Create job
          </Button>
        )}
      </div>
    </form>
  );
}

export const jobWizardView = reactView(JobWizardPage);
