// Typed calls to the REST API in docs/api.md. Everything is same-origin with the session cookie.

export type Id = number | string;

export interface Me {
  id: Id;
  username: string;
}

export interface Page<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}

export type ColumnType = "numeric" | "boolean" | "categorical";

export interface Column {
  name: string;
  type: ColumnType;
}

export interface Dataset {
  id: Id;
  name: string;
  status: string;
  sha256: string;
  size_bytes: number;
  n_rows: number;
  n_columns: number;
  columns: Column[];
  created_at: string;
}

export type TaskType = "binary" | "multiclass" | "regression";
export type JobStatus = "QUEUED" | "RUNNING" | "SUCCEEDED" | "FAILED";
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
  max_trials: number;
  max_epochs: number;
  status: JobStatus;
  error: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  best_trial: Id | null;
  test_metrics: Metrics | null;
  model_version: Id | null;
  trials?: Trial[];
}

export interface NewJob {
  dataset: Id;
  target: string;
  task_type?: TaskType;
  max_trials?: number;
  max_epochs?: number;
}

interface EventBase<K extends string, P> {
  seq: number;
  kind: K;
  payload: P;
  created_at: string;
}

export type JobEvent =
  | EventBase<"job_status", { status: JobStatus; error?: string | null }>
  | EventBase<"trial_started", { trial: number }>
  | EventBase<"epoch_end", { trial: number; epoch: number; metrics: Metrics }>
  | EventBase<"trial_finished", { trial: number; status: TrialStatus; score: number | null; hyperparameters: Metrics | null }>
  | EventBase<"job_finished", { status: JobStatus; model_version?: Id | null; test_metrics?: Metrics | null }>;

export interface SchemaColumn {
  name: string;
  type: ColumnType;
  values?: unknown[];
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
  target: string;
  classes: unknown[] | null;
  created_at: string;
}

export interface RegisteredModel {
  id: Id;
  name: string;
  task_type: TaskType;
  // The contract does not say whether this is a number, an id or a nested version.
  latest_version: unknown;
  created_at: string;
  versions?: ModelVersion[];
}

export type DeploymentStatus = "PENDING" | "READY" | "FAILED";

export interface Deployment {
  id: Id;
  name: string;
  model_version: Id;
  status: DeploymentStatus;
  endpoint_url: string | null;
  error: string | null;
  created_at: string;
  ready_at: string | null;
}

export type Prediction = number | { label: string; probabilities: Record<string, number> };
export type Instance = Record<string, unknown>;

/** An error answer; `message` is already readable, `field` names the offending column if any. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }

  get field(): string | null {
    const b = this.body as Record<string, unknown> | null;
    return b && typeof b === "object" && typeof b.field === "string" ? b.field : null;
  }
}

function readCookie(name: string): string {
  for (const part of document.cookie.split(";")) {
    const eq = part.indexOf("=");
    if (eq >= 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return "";
}

export function csrfToken(): string {
  return readCookie("csrftoken");
}

function errorMessage(status: number, body: unknown): string {
  if (body && typeof body === "object" && !Array.isArray(body)) {
    const obj = body as Record<string, unknown>;
    if (typeof obj.detail === "string") {
      return typeof obj.field === "string" ? `${obj.detail} (column: ${obj.field})` : obj.detail;
    }
    const parts = Object.entries(obj).map(([key, value]) => {
      const text = Array.isArray(value)
        ? value.map((v) => (typeof v === "string" ? v : JSON.stringify(v))).join(" ")
        : typeof value === "string"
          ? value
          : JSON.stringify(value);
      return key === "non_field_errors" ? text : `${key}: ${text}`;
    });
    if (parts.length) return parts.join("; ");
  }
  if (Array.isArray(body) && body.every((v) => typeof v === "string")) return body.join("; ");
  return `Request failed (HTTP ${status})`;
}

interface RequestOptions {
  json?: unknown;
  form?: FormData;
  signal?: AbortSignal;
}

async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  let body: BodyInit | undefined;
  if (opts.form) {
    body = opts.form; // the browser sets the multipart boundary itself
  } else if (opts.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(opts.json);
  }
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  const res = await fetch(path, { method, headers, body, credentials: "same-origin", signal: opts.signal });
  const text = res.status === 204 ? "" : await res.text();
  let data: unknown = undefined;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null; // an HTML error page from a proxy or Django's debug view
    }
  }
  if (!res.ok) throw new ApiError(res.status, data, errorMessage(res.status, data));
  return data as T;
}

const get = <T>(path: string, signal?: AbortSignal) => request<T>("GET", path, { signal });
const post = <T>(path: string, json: unknown, signal?: AbortSignal) => request<T>("POST", path, { json, signal });
const enc = (v: Id) => encodeURIComponent(String(v));

/** `next` links may be absolute with whatever host the server believes it has; keep them same-origin. */
function sameOriginPath(url: string): string {
  const u = new URL(url, location.href);
  return u.pathname + u.search;
}

async function listAll<T>(path: string, signal?: AbortSignal): Promise<T[]> {
  const out: T[] = [];
  let next: string | null = path;
  for (let pages = 0; next && pages < 100; pages++) {
    const page: Page<T> | T[] = await get<Page<T> | T[]>(next, signal);
    if (Array.isArray(page)) return page;
    out.push(...page.results);
    next = page.next ? sameOriginPath(page.next) : null;
  }
  return out;
}

export const api = {
  me: (signal?: AbortSignal) => get<Me>("/api/v1/auth/me/", signal),

  datasets: (signal?: AbortSignal) => listAll<Dataset>("/api/v1/datasets/", signal),
  dataset: (id: Id, signal?: AbortSignal) => get<Dataset>(`/api/v1/datasets/${enc(id)}/`, signal),
  uploadDataset(file: File, name: string, signal?: AbortSignal): Promise<Dataset> {
    const form = new FormData();
    form.append("file", file);
    if (name) form.append("name", name);
    return request<Dataset>("POST", "/api/v1/datasets/", { form, signal });
  },

  jobs: (signal?: AbortSignal) => listAll<Job>("/api/v1/jobs/", signal),
  job: (id: Id, signal?: AbortSignal) => get<Job>(`/api/v1/jobs/${enc(id)}/`, signal),
  createJob: (job: NewJob, signal?: AbortSignal) => post<Job>("/api/v1/jobs/", job, signal),

  models: (signal?: AbortSignal) => listAll<RegisteredModel>("/api/v1/models/", signal),
  model: (id: Id, signal?: AbortSignal) => get<RegisteredModel>(`/api/v1/models/${enc(id)}/`, signal),
  modelVersion: (id: Id, signal?: AbortSignal) => get<ModelVersion>(`/api/v1/model-versions/${enc(id)}/`, signal),
  deploy: (versionId: Id, signal?: AbortSignal) =>
    post<Deployment>(`/api/v1/model-versions/${enc(versionId)}/deploy/`, {}, signal),

  deployments: (signal?: AbortSignal) => listAll<Deployment>("/api/v1/deployments/", signal),
  deployment: (name: string, signal?: AbortSignal) => get<Deployment>(`/api/v1/deployments/${enc(name)}/`, signal),
  predict: (name: string, instances: Instance[], signal?: AbortSignal) =>
    post<{ predictions: Prediction[] }>(`/api/v1/deployments/${enc(name)}/predict/`, { instances }, signal),
};

export function jobSocketUrl(id: Id): string {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/ws/jobs/${enc(id)}/`;
}
