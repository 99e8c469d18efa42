// The new-job wizard's form controls: React Aria fields, each with its label, an optional hint
// and a place for the server's message about its field (named by the API's field name).
import { useLayoutEffect, useRef, type ReactNode } from "react";
import { Button, Input, Label, ListBox, ListBoxItem, Popover, Select, SelectValue, TextField } from "react-aria-components";
import type { BudgetPreset, Budgets, Dataset, Queue, TaskType, Tuner } from "../api";
import { formatLimit } from "./jobCancel";
import { suggestTaskType, suggestTarget, targetColumns, type Priority, type WizardState } from "./wizardRules";

export const TASK_TYPES: Array<[TaskType, string]> = [
  ["binary", "binary (two classes)"],
  ["multiclass", "multiclass"],
  ["regression", "regression (a number)"],
  ["multilabel", "multi-label (labels like a;b)"],
  ["forecasting", "forecasting (time series)"],
];
export const TUNERS: Array<[Tuner | "", string]> = [
  ["", "Default for the task"],
  ["random", "Random search"],
  ["bayesian", "Bayesian optimisation"],
  ["hyperband", "Hyperband"],
];
const BUDGETS: Array<[BudgetPreset, string]> = [
  ["quick", "Quick"],
  ["standard", "Standard"],
  ["thorough", "Thorough"],
];
export const QUEUES: Array<[Queue, string]> = [
  ["cpu", "CPU"],
  ["gpu", "GPU (waits for a GPU worker)"],
];
export const PRIORITIES: Array<[Priority, string]> = [
  ["low", "low"],
  ["normal", "normal"],
  ["high", "high"],
];
export const DELIMITERS: Array<[string, string]> = [
  ["", "detect"],
  [";", ";"],
  ["|", "|"],
  [",", ","],
];

/** The presets with the time each gives, once the server has said them. */
export function budgetOptions(limits: Budgets): Array<[BudgetPreset, string]> {
  return BUDGETS.map(([value, name]) => {
    const seconds = limits.presets[value];
    return [value, seconds !== undefined ? `${name} — ${formatLimit(seconds)}` : name];
  });
}

/** A dataset's target columns, the suggestion marked. */
export function targetOptions(ds: Dataset | null): Array<[string, string]> {
  if (!ds) return [];
  const suggested = suggestTarget(ds);
  return targetColumns(ds).map((col) => [col.name, col.name === suggested ? `${col.name} (suggested)` : col.name]);
}

/** The task types for predicting `target`, the suggestion marked; "" lets the server decide. */
export function taskTypeOptions(ds: Dataset | null, target: string): Array<[TaskType | "", string]> {
  const suggested = ds ? suggestTaskType(ds, target) : "";
  return [
    ["", suggested ? "Let the server decide" : "Let the server decide (no suggestion for this column)"],
    ...TASK_TYPES.map(([value, label]): [TaskType, string] => [value, value === suggested ? `${label} (suggested)` : label]),
  ];
}

/** What the target step says about the chosen column. */
export function targetType(ds: Dataset | null, target: string): string {
  if (!ds) return "";
  const col = ds.profile?.columns?.find((p) => p.name === target) ?? ds.columns.find((p) => p.name === target);
  const distinct = col && "distinct" in col && typeof col.distinct === "number" ? `, ${col.distinct} distinct` : "";
  return col ? `type: ${col.type}${distinct}` : "";
}

/** The chosen dataset in a sentence, with its suggested target. */
export function datasetFacts(ds: Dataset): string {
  const suggested = suggestTarget(ds);
  const rows = ds.n_rows ?? ds.profile?.n_rows;
  const images = ds.profile?.images?.n_images;
  return ds.kind === "image"
    ? `Images: ${images ?? "?"}; the target is the archive's ${suggested}.`
    : `${ds.kind}: ${rows ?? "?"} rows × ${ds.n_columns ?? ds.columns.length} columns; suggested target: ${suggested || "none"}.`;
}

/** The id of the message about an API field: `job-max-trials-error` for max_trials. */
export const errorIdOf = (name: string) => `job-${name.replace(/_/g, "-")}-error`;

interface FieldProps {
  /** The control's id (the browser tests' hook). */
  id: string;
  /** The API's name for the field, which its server messages carry. */
  name: string;
  label: string;
  hint?: ReactNode;
  error?: string;
  isDisabled?: boolean;
}

/** The hint and the error are the control's description; the label holds its text only, so the
 * control's name stays short. */
function describedBy(id: string, name: string, hint: ReactNode, error: string | undefined): string | undefined {
  return [hint ? `${id}-hint` : "", error ? errorIdOf(name) : ""].filter(Boolean).join(" ") || undefined;
}

function HintAndError({ id, name, hint, error }: Pick<FieldProps, "id" | "name" | "hint" | "error">): ReactNode {
  return (
    <>
      {hint ? (
        <small className="muted" id={`${id}-hint`}>
          {hint}
        </small>
      ) : null}
      <p className="field-error" id={errorIdOf(name)} hidden={!error}>
        {error ?? ""}
      </p>
    </>
  );
}

// A ListBox item's key cannot be "", which several choices mean ("let the server decide").
const EMPTY_KEY = "-";
const toKey = (value: string) => (value === "" ? EMPTY_KEY : value);
const fromKey = (key: unknown) => (key === EMPTY_KEY ? "" : String(key));

/** A choice from a list: a React Aria Select. `id` names its button, the control a person
 * focuses; its hidden native select, named as the API field, carries the value. */
export function ChoiceField<V extends string>({
  id,
  name,
  label,
  hint,
  error,
  isDisabled,
  value,
  options,
  placeholder,
  onChange,
}: FieldProps & {
  value: V;
  options: Array<[V, string]>;
  placeholder?: string;
  onChange: (value: V) => void;
}): ReactNode {
  const trigger = useRef<HTMLButtonElement>(null);
  // The trigger is what takes focus, so it is what says the value was refused (React Aria's
  // Select marks only its wrapper).
  useLayoutEffect(() => {
    if (error) trigger.current?.setAttribute("aria-invalid", "true");
    else trigger.current?.removeAttribute("aria-invalid");
  }, [error]);
  const known = options.some(([v]) => v === value);
  return (
    <Select
      id={id}
      name={name}
      className="react-aria-Select field"
      selectedKey={known ? toKey(value) : null}
      onSelectionChange={(key) => {
        if (key !== null) onChange(fromKey(key) as V);
      }}
      isDisabled={isDisabled}
      isInvalid={!!error}
      validationBehavior="aria"
      placeholder={placeholder}
      aria-describedby={describedBy(id, name, hint, error)}
    >
      <Label>{label}</Label>
      <Button className="select-button" ref={trigger}>
        <SelectValue />
        <span aria-hidden="true">▾</span>
      </Button>
      <HintAndError id={id} name={name} hint={hint} error={error} />
      <Popover>
        <ListBox>
          {options.map(([v, text]) => (
            <ListBoxItem key={toKey(v)} id={toKey(v)} data-value={v} textValue={text}>
              {text}
            </ListBoxItem>
          ))}
        </ListBox>
      </Popover>
    </Select>
  );
}

/** A whole number typed as text, so that Back and Next keep exactly what was entered and the
 * wizard's rules (then the server) say what is wrong with it. */
export function WholeNumberField({
  id,
  name,
  label,
  hint,
  error,
  isDisabled,
  value,
  min,
  max,
  placeholder,
  onChange,
}: FieldProps & {
  value: string;
  min: number;
  max?: number;
  placeholder: string;
  onChange: (value: string) => void;
}): ReactNode {
  return (
    <TextField
      name={name}
      className="react-aria-TextField field"
      type="number"
      value={value}
      onChange={onChange}
      isDisabled={isDisabled}
      isInvalid={!!error}
      validationBehavior="aria"
      aria-describedby={describedBy(id, name, hint, error)}
    >
      <Label>{label}</Label>
      <Input id={id} min={min} max={max} step={1} placeholder={placeholder} inputMode="numeric" />
      <HintAndError id={id} name={name} hint={hint} error={error} />
    </TextField>
  );
}

/** The wizard's number fields, kept as typed (text). */
export type NumberKey = "horizon" | "lookback" | "maxSeconds" | "maxTrials" | "maxEpochs" | "parallelTrials" | "seed";

/** What every number field of the wizard takes from its state: its id and name from the API
 * field's name, its message, its value, and the update. */
export function numberFieldBinder(
  state: WizardState,
  errors: Record<string, string>,
  set: (change: Partial<WizardState>) => void,
): (key: NumberKey, name: string) => { id: string; name: string; error: string | undefined; value: string; onChange: (value: string) => void } {
  return (key, name) => ({
    id: `job-${name.replaceAll("_", "-")}`,
    name,
    error: errors[name],
    value: state[key],
    onChange: (value) => set({ [key]: value }),
  });
}
