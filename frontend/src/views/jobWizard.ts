// The new-job wizard (#/jobs/new[/<dataset>[/<step>]]): dataset, target and task, budget and
// hardware, then a review with what the budget buys. Every step stays in the page, hidden when
// not current, so Back and Next keep what was entered; the hash keeps the step and a session
// draft the values, so a reload does not lose the wizard.
import { ApiError, api, type Budgets, type Dataset } from "../api";
import { errorSlot, facts, h, messageOf, type Child } from "../dom";
import { navigate, type ViewContext } from "../router";
import { formatLimit } from "./jobCancel";
import { applyLimits, buildControls, fillTargets, fillTaskTypes, readControls, showTaskOptions, writeControls } from "./jobWizardFields";
import {
  DEFAULT_LIMITS,
  describeEstimate,
  estimateFor,
  firstStepWithError,
  initialState,
  isStep,
  jobPath,
  requestBody,
  ROWS_PER_SECOND,
  IMAGES_PER_SECOND,
  STEPS,
  suggestTarget,
  suggestTaskType,
  validateStep,
  type StepId,
  type WizardState,
} from "./wizardRules";

const DRAFT_KEY = "job-wizard-draft";

function loadDraft(dataset: string | undefined): WizardState | null {
  try {
    const draft = JSON.parse(sessionStorage.getItem(DRAFT_KEY) ?? "null") as WizardState | null;
    return draft && (!dataset || draft.dataset === dataset) ? { ...initialState(), ...draft } : null;
  } catch {
    return null;
  }
}

export async function jobWizardView(root: HTMLElement, { params, signal }: ViewContext): Promise<void> {
  const errors = errorSlot();
  const heading = h("h1", null, "New training job");
  root.append(h("p", { class: "crumbs" }, h("a", { href: "#/jobs" }, "← Jobs")), heading, errors.el);

  // Only READY datasets can train; the list has no profiles, the chosen one is read in full.
  const [all, limits] = await Promise.all([
    api.datasets(signal),
    api.jobBudgets(signal).catch((): Budgets => DEFAULT_LIMITS), // the names alone still make a valid request
  ]);
  const ready = all.filter((d) => d.status === "READY");
  const c = buildControls(ready);
  applyLimits(c, limits);

  // A reload (the step in the address) finds its draft; a fresh start begins from suggestions.
  const restored = params.dataset && params.step ? loadDraft(params.dataset) : null;
  let state: WizardState = restored ?? initialState(params.dataset ?? "");
  let ds: Dataset | null = null;
  // A task type the person chose stays when they change the target; a suggestion follows it.
  let taskChosen = false;

  const stepHeadings = new Map<StepId, HTMLHeadingElement>();
  const sections = new Map<StepId, HTMLElement>();
  const review = h("div", { id: "job-review" });
  const estimateText = h("p", { id: "job-estimate", class: "note" });
  const reviewErrors = errorSlot();
  const bodies: Record<StepId, Child[]> = {
    ...c.bodies,
    review: [
      review,
      h("h3", null, "What the budget buys"),
      estimateText,
      h(
        "details",
        { id: "job-estimate-rule" },
        h("summary", null, "How this is estimated"),
        h(
          "p",
          { class: "muted" },
          `A simple rule from the measured figures in docs/benchmarks.md (2 CPU cores), not a promise: ` +
            `${ROWS_PER_SECOND.toLocaleString("en")} training rows a second (${IMAGES_PER_SECOND.toLocaleString("en")} images), ` +
            `60% of the rows train, the search gets 75% of the time (the rest: refit, test scores, saving), and a trial ` +
            `without an epoch cap is counted as twice its early-stopping patience. A GPU, parallel trials waiting for free ` +
            `workers, or a busy machine change it.`,
        ),
      ),
      h("p", { class: "muted" }, "Metric: the API takes none; every search minimises the validation loss and the job reports its test metrics."),
      reviewErrors.el,
    ],
  };
  STEPS.forEach(({ id, title }, index) => {
    const headingId = `wizard-step-${id}-heading`;
    const stepHeading = h("h2", { id: headingId, tabindex: -1 }, `Step ${index + 1} of ${STEPS.length}: ${title}`);
    stepHeadings.set(id, stepHeading);
    sections.set(id, h("section", { id: `wizard-step-${id}`, class: "wizard-step", "aria-labelledby": headingId, hidden: true }, stepHeading, bodies[id]));
  });
  const progress = h(
    "ol",
    { class: "wizard-progress", "aria-label": "Steps" },
    STEPS.map(({ id, title }) => h("li", { "data-step": id }, title)),
  );
  const back = h("button", { type: "button", id: "wizard-back", class: "secondary" }, "Back");
  const next = h("button", { type: "submit", id: "wizard-next" }, "Next");
  const create = h("button", { type: "submit", id: "job-submit" }, "Create job");
  const form = h(
    "form",
    { id: "job-wizard", class: "card wizard", novalidate: true, "aria-label": "New training job" },
    progress,
    [...sections.values()],
    h("div", { class: "actions" }, back, next, create),
  );
  root.append(form);

  let step: StepId = isStep(params.step) ? params.step : state.dataset ? "target" : "dataset";

  function sync(): void {
    state = { ...state, dataset: c.dataset.value, ...readControls(c) };
    try {
      sessionStorage.setItem(DRAFT_KEY, JSON.stringify(state));
    } catch {
      // private mode: the wizard still works, a reload just starts over
    }
    if (ds) c.liveEstimate.textContent = estimateSentence(ds, state, limits);
  }

  function clearFieldErrors(): void {
    for (const f of c.fields) {
      f.error.hidden = true;
      f.error.textContent = "";
      f.control.removeAttribute("aria-invalid");
      const described = (f.control.getAttribute("aria-describedby") ?? "").split(" ").filter((id) => id && id !== f.error.id);
      if (described.length) f.control.setAttribute("aria-describedby", described.join(" "));
      else f.control.removeAttribute("aria-describedby");
    }
    reviewErrors.clear();
  }

  /** Shows each message beside its field; what no field holds goes to the review's slot. */
  function showFieldErrors(messages: Record<string, string[] | string>): string[] {
    const placed: string[] = [];
    const loose: string[] = [];
    for (const [name, value] of Object.entries(messages)) {
      const text = Array.isArray(value) ? value.join(" ") : value;
      const f = c.fields.find((x) => x.name === name);
      if (!f) {
        loose.push(text);
        continue;
      }
      f.error.textContent = text;
      f.error.hidden = false;
      f.control.setAttribute("aria-invalid", "true");
      // A message inside the closed "Advanced" part would be out of sight.
      const details = f.el.closest("details");
      if (details) details.open = true;
      const described = (f.control.getAttribute("aria-describedby") ?? "").split(" ").filter(Boolean);
      f.control.setAttribute("aria-describedby", [...described, f.error.id].join(" "));
      placed.push(name);
    }
    if (loose.length) reviewErrors.show(loose.join(" "));
    return placed;
  }

  function show(to: StepId, focus: "heading" | "error" | "none" = "heading"): void {
    step = to;
    const index = STEPS.findIndex((s) => s.id === to);
    for (const [id, section] of sections) section.hidden = id !== to;
    for (const li of Array.from(progress.children)) {
      const at = STEPS.findIndex((s) => s.id === (li as HTMLElement).dataset.step);
      if (at === index) li.setAttribute("aria-current", "step");
      else li.removeAttribute("aria-current");
      li.classList.toggle("done", at < index);
    }
    back.hidden = index === 0;
    next.hidden = to === "review";
    create.hidden = to !== "review";
    if (to === "review") renderReview();
    // The step in the address, without a hashchange (which would draw the view afresh).
    const path = state.dataset ? `#/jobs/new/${encodeURIComponent(state.dataset)}/${to}` : "#/jobs/new";
    if (location.hash !== path) history.replaceState(null, "", path);
    if (focus === "heading") stepHeadings.get(to)?.focus();
    else if (focus === "error") sections.get(to)?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
  }

  function renderReview(): void {
    if (!ds) return;
    const body = requestBody(state, ds);
    const edit = (to: StepId, label: string) =>
      h("button", { type: "button", class: "secondary small", "data-edit": to, onclick: () => show(to) }, `Change ${label}`);
    const seconds = body.max_seconds ?? limits.presets[state.budget];
    const optional = (value: unknown, none: string) => (value === undefined ? none : String(value));
    review.replaceChildren(
      facts(
        [
          ["Dataset", h("span", { id: "review-dataset" }, `${ds.name} (v${ds.version ?? 1})`)],
          ["Target", h("span", { id: "review-target" }, body.target || "—")],
          ["Task type", h("span", { id: "review-task-type" }, body.task_type ?? "decided by the server")],
          ["Time budget", h("span", { id: "review-budget" }, body.budget ? `${body.budget} (${formatLimit(seconds)})` : formatLimit(seconds))],
          ["Max trials", h("span", { id: "review-max-trials" }, optional(body.max_trials, "no cap: as many as the time allows"))],
          ["Max epochs per trial", optional(body.max_epochs, "no cap: early stopping decides")],
          ["Tuner", body.tuner ?? "default for the task"],
          ["Hardware", body.queue === "gpu" ? "GPU" : "CPU"],
          ["Trials at once", optional(body.parallel_trials, "1")],
          ["Seed", optional(body.seed, "random")],
        ],
        { id: "job-review-facts" },
      ),
      h("div", { class: "actions wrap" }, edit("dataset", "dataset"), edit("target", "target"), edit("budget", "budget")),
    );
    estimateText.textContent = estimateSentence(ds, state, limits);
  }

  /** Reads the chosen dataset and sets the target and task to its suggestions. */
  async function chooseDataset(id: string, keep: WizardState | null): Promise<void> {
    ds = null;
    c.datasetFacts.textContent = id ? "Reading the dataset…" : "";
    if (!id) return;
    try {
      ds = await api.dataset(id, signal);
    } catch (err) {
      showFieldErrors({ dataset: err instanceof ApiError && err.status === 404 ? `You have no dataset with id ${id}.` : messageOf(err) });
      c.datasetFacts.textContent = "";
      return;
    }
    if (ds.status !== "READY") {
      showFieldErrors({ dataset: `“${ds.name}” is ${ds.status}; a job needs a READY dataset.` });
      ds = null;
      return;
    }
    if (!Array.from(c.dataset.options).some((o) => o.value === id)) c.dataset.append(h("option", { value: id }, ds.name));
    c.dataset.value = id;
    fillTargets(c, ds);
    const target = keep?.target && Array.from(c.target.options).some((o) => o.value === keep.target) ? keep.target : suggestTarget(ds);
    c.target.value = target;
    fillTaskTypes(c, ds, target);
    c.taskType.value = keep ? keep.taskType : suggestTaskType(ds, target);
    taskChosen = !!keep && keep.taskType !== suggestTaskType(ds, target);
    showTaskOptions(c);
    sync();
  }

  c.dataset.addEventListener("change", () => {
    clearFieldErrors();
    void chooseDataset(c.dataset.value, null);
  });
  c.target.addEventListener("change", () => {
    if (!ds) return;
    const chosen = c.taskType.value;
    fillTaskTypes(c, ds, c.target.value);
    c.taskType.value = taskChosen ? chosen : suggestTaskType(ds, c.target.value);
    showTaskOptions(c);
  });
  c.taskType.addEventListener("change", () => {
    taskChosen = true;
    showTaskOptions(c);
  });
  form.addEventListener("input", sync);
  form.addEventListener("change", sync);
  back.addEventListener("click", () => {
    const index = STEPS.findIndex((s) => s.id === step);
    if (index > 0) show(STEPS[index - 1]!.id);
  });

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    sync();
    clearFieldErrors();
    errors.clear();
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
    create.disabled = true;
    try {
      const job = await api.createJob(requestBody(state, ds), signal);
      sessionStorage.removeItem(DRAFT_KEY);
      navigate(jobPath(job.id));
    } catch (err) {
      create.disabled = false;
      // The API's one error shape: `fields` names each request field it refused.
      const placed = err instanceof ApiError && err.status === 400 ? showFieldErrors(fieldsOf(err)) : [];
      if (placed.length) show(firstStepWithError(placed), "error");
      else reviewErrors.show(err);
    }
  });

  if (!ready.length && !state.dataset) {
    c.datasetFacts.replaceChildren("Upload a dataset and wait for its profile first: ", h("a", { href: "#/datasets" }, "Datasets"), ".");
  }
  await chooseDataset(state.dataset, restored);
  if (ds && restored) writeControls(c, restored);
  // A step after the dataset needs one; a deep link to a missing or unready one starts there.
  show(ds ? step : "dataset", "none");
  sync();
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
