// The shapes of docs/api.md's objects.

export type Id = number | string;

export interface Me {
  id: Id;
  username: string;
}

/** A page of a list (cursor pagination: follow `next` until it is null). */
export interface Page<T> {
  next: string | null;
  previous: string | null;
  results: T[];
}

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
] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];

export interface Column {
  name: string;
  type: ColumnType;
}

export type DatasetStatus = "PENDING" | "PROFILING" | "READY" | "FAILED";
export type DatasetKind = "tabular" | "image" | "text" | "timeseries";

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

export interface DatasetProfile {
  n_rows?: number | null;
  n_columns?: number | null;
  duplicate_rows?: number | null;
  memory_bytes?: number | null;
  columns?: ColumnProfile[];
  suggested_target?: string | null;
  suggested_task_type?: TaskType | null;
  warnings?: ProfileWarning[];
  images?: ImageSummary;
}

export interface Dataset {
  id: Id;
  name: string;
  kind: DatasetKind;
  version: number;
  parent: Id | null;
  children?: Id[];
  changes?: Record<string, unknown> | null;
  original_filename?: string;
  format?: string;
  encoding?: string;
  delimiter?: string;
  has_header?: boolean;
  status: DatasetStatus;
  error?: string | null;
  sha256: string;
  size_bytes: number;
  n_rows: number | null;
  n_columns: number | null;
  columns: Column[];
  column_types?: Record<string, ColumnType>;
  text_column?: string;
  timestamp_column?: string;
  /** Only on `GET /datasets/<id>/`, not in lists; `{}` until profiled. */
  profile?: DatasetProfile | null;
  created_at: string;
  profiled_at?: string | null;
  /** Only on the answer to a create: true when this exact file was already yours. */
  existing?: boolean;
}

/** How to read an uploaded file; anything left out is detected. */
export interface DatasetOptions {
  name?: string;
  kind?: Exclude<DatasetKind, "image">;
  format?: string;
  encoding?: string;
  delimiter?: string;
  header?: boolean;
  column_types?: Record<string, ColumnType>;
  text_column?: string;
  timestamp_column?: string;
}

export interface RowsPage {
  count: number | null;
  offset: number;
  next_offset: number | null;
  rows: Array<Record<string, unknown>>;
}

export interface VersionRequest {
  drop_columns?: string[];
  column_types?: Record<string, ColumnType>;
  relabel_column?: string;
  relabel?: Record<string, string>;
}

export interface Upload {
  id: string;
  filename: string;
  size: number;
  offset: number;
  complete?: boolean;
}

export type TaskType = "binary" | "multiclass" | "regression" | "multilabel" | "forecasting";
export type JobStatus = "QUEUED" | "RUNNING" | "SUCCEEDED" | "FAILED" | "CANCELLED";
export type Tuner = "random" | "bayesian" | "hyperband";
/** The worker queue a job runs on: "gpu" jobs wait for a worker on a machine with a GPU. */
export type Queue = "cpu" | "gpu";
/** Why a search ended early; "" when it ran its course. */
export type JobStopped = "" | "time_limit" | "cancelled" | "stopped_by_user";
/** A named time budget; its seconds come from `GET /api/v1/jobs/budgets/`. */
export type BudgetPreset = "quick" | "standard" | "thorough";

export interface Budgets {
  presets: Record<BudgetPreset, number>;
  default: BudgetPreset;
  /** The highest caps a job may set. */
  max_trials: number;
  max_epochs: number;
}
export type TrialStatus = "RUNNING" | "COMPLETED" | "FAILED";
export type Metrics = Record<string, unknown>;

export interface Epoch {
  epoch: number;
  [metric: string]: unknown;
}

export interface Trial {
  id: Id;
  number: number;
  status: TrialStatus;
  hyperparameters: Metrics | null;
  score: number | null;
  metrics: Metrics | null;
  epochs: Epoch[];
  started_at: string | null;
  finished_at: string | null;
}

export interface Job {
  id: Id;
  dataset: Id;
  target: string;
  task_type: TaskType | null;
  /** Optional caps within the budget; null: the search decides. */
  max_trials: number | null;
  max_epochs: number | null;
  /** Drawn at random unless the job named one; the same seed reproduces the search. */
  seed?: number;
  status: JobStatus;
  error: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  best_trial: Id | null;
  test_metrics: Metrics | null;
  model_version: Id | null;
  trials?: Trial[];
  tuner?: Tuner;
  max_seconds?: number | null;
  /** The preset max_seconds came from; "" when the job gave seconds. */
  budget?: BudgetPreset | "";
  /** What the task needed beyond a target: text_column, label_delimiter, or timestamp_column,
   * horizon and lookback. */
  task_options?: Record<string, unknown>;
  queue?: Queue;
  /** Why a QUEUED job has not started when no running worker takes its queue; else "". */
  waiting_for?: string;
  cancel_requested?: boolean;
  /** With cancel_requested: stop and register the best finished trial. */
  keep_best?: boolean;
  stopped?: JobStopped | null;
  /** null unless class weighting was used. */
  class_weights?: Record<string, unknown> | null;
  /** Seed, split hash, search space, library and backend versions, hardware. */
  manifest?: Record<string, unknown> | null;
}

export interface NewJob {
  dataset: Id;
  target: string;
  task_type?: TaskType;
  /** The time budget: a preset, or max_seconds (10-604800), not both; neither: the default. */
  budget?: BudgetPreset;
  max_seconds?: number;
  max_trials?: number;
  max_epochs?: number;
  /** 0 to 2^31-1; left out: random. */
  seed?: number;
  tuner?: Tuner;
  queue?: Queue;
  /** Forecasting: steps ahead (default 1) and a fixed window (searched when absent). */
  horizon?: number;
  lookback?: number;
  /** Multi-label: what separates the labels in the target column (detected when absent). */
  label_delimiter?: ";" | "|" | ",";
}

export interface EventBase<K extends string, P> {
  seq: number;
  kind: K;
  payload: P;
  created_at: string;
}

export type JobEvent =
  | EventBase<"job_status", { status: JobStatus; error?: string | null }>
  | EventBase<"cancel_requested", { keep_best?: boolean }>
  | EventBase<"trial_started", { trial: number; rerun?: boolean }>
  | EventBase<"search_resumed", { attempt: number; trials_done: number }>
  | EventBase<"epoch_end", { trial: number; epoch: number; metrics: Metrics }>
  | EventBase<"trial_finished", { trial: number; status: TrialStatus; score: number | null; hyperparameters: Metrics | null }>
  | EventBase<"job_finished", { status: JobStatus; model_version?: Id | null; test_metrics?: Metrics | null }>;

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

export interface ModelVersion {
  id: Id;
  model: Id;
  model_name: string;
  version: number;
  job: Id | null;
  dataset: Id | null;
  task_type: TaskType;
  metrics: Metrics | null;
  hyperparameters: Metrics | null;
  input_schema: SchemaColumn[];
  input_signature?: { inputs: SignatureInput[]; example: Record<string, unknown> | null };
  output_signature?: { target: string; task_type: string; classes: unknown[] | null };
  manifest?: Record<string, unknown>;
  artifact_sha256?: string;
  artifact_size?: number | null;
  aliases?: string[];
  archived_at?: string | null;
  created_by?: string | null;
  target: string;
  classes: unknown[] | null;
  created_at: string;
}

export interface Alias {
  name: string;
  version: number;
  version_id: Id;
  updated_by: string | null;
  updated_at: string;
}

export type Role = "owner" | "viewer" | "editor" | "admin";

export interface RegisteredModel {
  id: Id;
  name: string;
  description?: string;
  tags?: string[];
  owner?: string;
  role?: Role | null;
  aliases?: Alias[];
  task_type: TaskType;
  // The contract does not say whether this is a number, an id or a nested version.
  latest_version: unknown;
  created_at: string;
  versions?: ModelVersion[];
}

export type DeploymentStatus = "PENDING" | "LOADING" | "READY" | "UNLOADED" | "FAILED" | "UNDEPLOYED";

export interface Deployment {
  id: Id;
  name: string;
  model_version: Id;
  model_name?: string;
  version?: number;
  alias?: string | null;
  /** The deployer's username (a teammate's deployment is listed too). */
  owner?: string;
  status: DeploymentStatus;
  endpoint_url: string | null;
  error: string | null;
  created_at: string;
  ready_at: string | null;
}

/** `GET /api/v1/deployments/<name>/keys/`: a key as listed (never the key itself). */
export interface DeploymentKey {
  id: Id;
  name: string;
  prefix: string;
  rate_limit_per_minute: number | null;
  expires_at: string | null;
  revoked_at: string | null;
  created_at: string;
  last_used_at: string | null;
  active: boolean;
}

/** The 201 of `POST /api/v1/deployments/<name>/keys/`: with the key, shown this once. */
export interface NewDeploymentKey extends DeploymentKey {
  key: string;
}

export interface TrafficStats {
  requests: number;
  errors_4xx: number;
  errors_5xx: number;
  rows: number;
  latency_ms_avg: number | null;
  latency_ms_p50: number | null;
  latency_ms_p95: number | null;
  latency_ms_p99: number | null;
}

export interface VersionTraffic extends TrafficStats {
  version: Id;
  version_number: number;
}

export type TrafficStage = "parse" | "queue" | "inference" | "serialise";

/** In the totals (overall and per version): model calls by rows, and time per stage. */
export interface TrafficBreakdown {
  batches: number;
  /** One count per bound of `batch_rows_bounds` (rows up to it), and one over the top bound. */
  batch_rows_histogram: number[];
  stage_ms_sum: Record<TrafficStage, number>;
  /** Per answered request; null without any. */
  stage_ms_avg: Record<TrafficStage, number | null>;
}

/** `GET /api/v1/deployments/<name>/metrics/`. */
export interface DeploymentTraffic {
  deployment: string;
  since: string;
  until: string;
  step: number;
  batch_rows_bounds: number[];
  series: Array<VersionTraffic & { t: string }>;
  totals: TrafficStats & TrafficBreakdown & { versions: Array<VersionTraffic & TrafficBreakdown> };
}

export interface AuditEvent {
  id: Id;
  action: string;
  actor: string;
  model: Id | null;
  model_name: string | null;
  version: Id | null;
  deployment: Id | null;
  subject: string;
  from_value: string;
  to_value: string;
  created_at: string;
}

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

export interface Comparison {
  a: { id: Id; model_name: string; version: number };
  b: { id: Id; model_name: string; version: number };
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
  dataset: Same<Id>;
}

export interface ModelCard {
  markdown: string;
  edited: boolean;
}

export type Prediction =
  | number
  | number[]
  | { labels: string[]; probabilities: Record<string, number> }
  | { label: string; probabilities: Record<string, number> };
export type Instance = Record<string, unknown>;

export type TokenScope = "read" | "predict" | "full";

/** A personal API token as listed: the secret itself is never shown again. */
export interface ApiToken {
  id: Id;
  name: string;
  prefix: string;
  scope: TokenScope;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
}

export interface NewApiToken extends ApiToken {
  token: string;
}
