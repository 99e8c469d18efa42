// The shapes of docs/api.md's objects. What the server's OpenAPI schema describes comes from
// src/generated/openapi.d.ts (`npm run gen:api` writes it from docs/openapi.yaml), so a field the
// server renames or drops is a tsc error here or where a view reads it. On top of that, by hand,
// only what the schema leaves open: the contents of JSON columns (`{}` in the schema, `unknown`
// in the generated types) and the websocket messages, which are not part of the REST schema.

import type { components } from "./generated/openapi";

type S = components["schemas"];

/**
 * An object as an answer carries it. DRF writes every field of a serializer in each answer; the
 * schema marks a field optional where a request may leave it out (the model has a default),
 * which says nothing of answers. Not readonly: a view keeps its copy current from events.
 */
type Answer<T> = { -readonly [K in keyof T]-?: T[K] };

/**
 * `T` with some fields said more exactly than the schema can (what a JSON column holds, which
 * strings a free-text field takes). Each key of `R` must be a field of `T` and each shape one
 * the schema allows, so a rename or a retyping on the server fails here.
 */
type Refine<T, R extends { [K in keyof R]: K extends keyof T ? T[K] : never }> = Omit<T, keyof R> & R;

/** tsc fails on `Expect<X>` unless X is true: for checks that have no value to hang on. */
type Expect<T extends true> = T;

/** What a request may name an object by: the ids in the page's address are digits as text. */
export type Id = number | string;

export type Me = Answer<S["Me"]>;

/** The column types of docs/api.md; a model's input schema uses the same names. */
export const COLUMN_TYPES = [
  "numeric",
  "integer",
  "boolean",
  "categorical",
  "text",
  "datetime",
  "image_path",
  "identifier",
  "constant",
] as const satisfies readonly ColumnType[];
export type ColumnType = NonNullable<S["VersionRequestRequest"]["column_types"]>[string];
/** Fails to compile when the server takes a column type the list above lacks. */
export type AllColumnTypesListed = Expect<
  [Exclude<ColumnType, (typeof COLUMN_TYPES)[number]>] extends [never] ? true : false
>;

export interface Column {
  name: string;
  type: ColumnType;
}

export type DatasetStatus = S["DatasetStatusEnum"];
export type DatasetKind = S["KindEnum"];

export interface Histogram {
  edges: number[];
  counts: number[];
}

export interface ColumnProfile {
  name: string;
  type: ColumnType;
  inferred_type?: ColumnType | null;
  missing?: number | null;
  distinct?: number | null;
  min?: unknown;
  max?: unknown;
  mean?: number | null;
  std?: number | null;
  histogram?: Histogram | null;
  top?: Array<{ value: unknown; count: number }> | null;
  length?: unknown;
  empty?: number | null;
  [extra: string]: unknown;
}

export interface ProfileWarning {
  code: string;
  column?: string | null;
  message: string;
}

/**
 * What the profile of an image zip says. The contract names the keys but not their shapes, so
 * everything is `unknown` and rendered generically.
 */
export interface ImageSummary {
  layout?: unknown;
  task?: unknown;
  n_images?: number | null;
  classes?: unknown;
  sizes?: unknown;
  modes?: unknown;
  formats?: unknown;
  unreadable?: unknown;
  [extra: string]: unknown;
}

/** A dataset's `profile` (a JSON column): `{}` until profiled. */
export interface DatasetProfile {
  n_rows?: number | null;
  n_columns?: number | null;
  duplicate_rows?: number | null;
  /** True when duplicate_rows is estimated (tables past millions of rows). */
  duplicate_rows_approx?: boolean;
  memory_bytes?: number | null;
  columns?: ColumnProfile[];
  suggested_target?: string | null;
  suggested_task_type?: TaskType | null;
  warnings?: ProfileWarning[];
  images?: ImageSummary;
}

/** The JSON columns every form of a dataset carries. */
interface DatasetJson {
  changes: Record<string, unknown> | null;
  columns: Column[];
  column_types: Record<string, ColumnType>;
}

/** A dataset as lists show it: without the profile. */
export type DatasetListItem = Refine<Answer<S["DatasetList"]>, DatasetJson>;
/** `GET /datasets/<id>/` and a new version: with the profile. */
export type Dataset = Refine<Answer<S["Dataset"]>, DatasetJson & { profile: DatasetProfile | null }>;
/** The answer to a create: `existing` is true when this exact file was already yours. */
export type DatasetCreated = Refine<Answer<S["DatasetCreated"]>, DatasetJson & { profile: DatasetProfile | null }>;

/** How to read an uploaded file; anything left out is detected. */
export type DatasetOptions = Omit<S["DatasetUploadRequest"], "file" | "upload">;

export type RowsPage = Answer<S["RowsPage"]>;
export type VersionRequest = S["VersionRequestRequest"];

export type TaskType = S["TaskTypeEnum"];
export type JobStatus = S["JobStatusEnum"];
export type Tuner = S["TunerEnum"];
/** The worker queue a job runs on: "gpu" jobs wait for a worker on a machine with a GPU. */
export type Queue = S["QueueEnum"];
/** Why a search ended early; "" when it ran its course. */
export type JobStopped = "" | "time_limit" | "cancelled" | "stopped_by_user";
/** A named time budget; its seconds come from `GET /api/v1/jobs/budgets/`. */
export type BudgetPreset = S["BudgetEnum"];

export type Budgets = Refine<
  Answer<S["Budgets"]>,
  {
    presets: Record<BudgetPreset, number>;
    default: BudgetPreset;
  }
>;
export type TrialStatus = S["TrialStatusEnum"];
export type Metrics = Record<string, unknown>;

export interface Epoch {
  epoch: number;
  [metric: string]: unknown;
}

export type Trial = Refine<Answer<S["Trial"]>, { hyperparameters: Metrics | null; epochs: Epoch[] }>;

export type Job = Refine<
  Answer<S["Job"]>,
  {
    trials: Trial[];
    test_metrics: Metrics | null;
    best_hyperparameters: Metrics | null;
    stopped: JobStopped;
    /** The preset max_seconds came from; "" when the job gave seconds. */
    budget: BudgetPreset | "";
    /** What the task needed beyond a target: text_column, label_delimiter, or timestamp_column,
     * horizon and lookback. */
    task_options: Record<string, unknown>;
    /** null unless class weighting was used. */
    class_weights: Record<string, unknown> | null;
    /** Seed, split hash, search space, library and backend versions, hardware. */
    manifest: Record<string, unknown> | null;
  }
>;

export type NewJob = S["JobCreateRequest"];

/** An event as `/events/` lists it and the websockets send it, with the payload its kind has. */
export type EventBase<K extends string, P> = Refine<Answer<S["Event"]>, { kind: K; payload: P }>;

export type JobEvent =
  | EventBase<"job_status", { status: JobStatus; error?: string | null }>
  | EventBase<"cancel_requested", { keep_best?: boolean }>
  | EventBase<"trial_started", { trial: number; rerun?: boolean }>
  | EventBase<"search_resumed", { attempt: number; trials_done: number }>
  | EventBase<"epoch_end", { trial: number; epoch: number; metrics: Metrics }>
  | EventBase<"trial_finished", { trial: number; status: TrialStatus; score: number | null; hyperparameters: Metrics | null }>
  | EventBase<"job_finished", { status: JobStatus; model_version?: number | null; test_metrics?: Metrics | null }>;

export type DatasetEvent =
  | EventBase<"dataset_status", { status: DatasetStatus; error?: string | null }>
  | EventBase<"profile_progress", { fraction: number }>;

/** `/ws/deployments/<name>/`: the deployment as its REST detail shows it, first as it is, then
 * after each change; `seq` counts this connection's messages. */
export interface DeploymentEvent {
  kind: "deployment";
  seq: number;
  deployment: Deployment;
}

export interface SchemaColumn {
  name: string;
  /** "image": an image model's one input, sent as base64 file bytes. "history": a forecaster's
   * one input, the last `lookback` rows of `columns`. */
  type: ColumnType | "image" | "history";
  lookback?: number;
  horizon?: number;
  target?: string;
  columns?: Array<{ name: string; type: string }>;
  values?: unknown[];
  /** Image inputs: the accepted formats and the size the predictor decodes to. */
  formats?: string[];
  height?: number;
  width?: number;
  channels?: number;
}

export interface SignatureInput extends SchemaColumn {
  range?: [number, number];
}

export type ModelVersion = Refine<
  Answer<S["ModelVersion"]>,
  {
    task_type: TaskType;
    metrics: Metrics | null;
    hyperparameters: Metrics | null;
    input_schema: SchemaColumn[];
    input_signature: { inputs: SignatureInput[]; example: Record<string, unknown> | null };
    output_signature: { target: string; task_type: string; classes: unknown[] | null };
    manifest: Record<string, unknown>;
    classes: unknown[] | null;
  }
>;

export type Alias = Answer<S["Alias"]>;

/** What the user may do with a model: its owner, or a member of its workspace. */
export type Role = "owner" | S["RoleEnum"];

export type RegisteredModel = Refine<
  Answer<S["RegisteredModel"]>,
  {
    task_type: TaskType;
    tags: string[];
    role: Role | null;
    versions: ModelVersion[];
  }
>;

export type DeploymentStatus = S["DeploymentStatusEnum"];
export type Deployment = Answer<S["Deployment"]>;

/** `GET /api/v1/deployments/<name>/keys/`: a key as listed (never the key itself). */
export type DeploymentKey = Answer<S["DeploymentKey"]>;
/** The 201 of `POST /api/v1/deployments/<name>/keys/`: with the key, shown this once. */
export type NewDeploymentKey = Answer<S["DeploymentKeyCreated"]>;

/** `GET /api/v1/deployments/<name>/metrics/`. */
export type DeploymentTraffic = Answer<S["DeploymentTraffic"]>;
export type TrafficStats = Pick<
  S["TrafficTotals"],
  "requests" | "errors_4xx" | "errors_5xx" | "rows" | "latency_ms_avg" | "latency_ms_p50" | "latency_ms_p95" | "latency_ms_p99"
>;
/** In the totals (overall and per version): model calls by rows, and time per stage. */
export type TrafficBreakdown = Pick<S["TrafficTotals"], "batches" | "batch_rows_histogram" | "stage_ms_sum" | "stage_ms_avg">;

export type AuditEvent = Answer<S["AuditEvent"]>;

// The comparison's answer is a free-form object in the schema: described here alone.
export interface DiffRow {
  name: string;
  a: unknown;
  b: unknown;
  same: boolean;
  delta?: number;
}

export interface Same<T> {
  a: T;
  b: T;
  same: boolean;
}

export type Comparison = {
  a: { id: number; model_name: string; version: number };
  b: { id: number; model_name: string; version: number };
  metrics: DiffRow[];
  hyperparameters: DiffRow[];
  signature: {
    inputs_only_in_a: string[];
    inputs_only_in_b: string[];
    inputs_changed: Array<{ name: string; a: SchemaColumn; b: SchemaColumn }>;
    target: Same<string>;
    task_type: Same<string>;
    classes: Same<unknown[] | null>;
  };
  dataset: Same<number>;
};

export type ModelCard = Answer<S["ModelCard"]>;

export type Prediction =
  | number
  | number[]
  | { labels: string[]; probabilities: Record<string, number> }
  | { label: string; probabilities: Record<string, number> };
export type Instance = NonNullable<S["PredictRequestRequest"]["instances"]>[number];
export type PredictResponse = Refine<Answer<S["PredictResponse"]>, { predictions: Prediction[] }>;

export type TokenScope = S["ScopeEnum"];

/** A personal API token as listed: the secret itself is never shown again. */
export type ApiToken = Answer<S["ApiToken"]>;
export type NewApiToken = Answer<S["NewApiToken"]>;
