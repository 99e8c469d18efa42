// Typed calls to the REST API in docs/api.md. Everything is same-origin with the session cookie.

import type {
  Alias,
  ApiToken,
  AuditEvent,
  Budgets,
  Comparison,
  Dataset,
  DatasetOptions,
  Deployment,
  DeploymentKey,
  DeploymentTraffic,
  Id,
  Instance,
  Job,
  Me,
  ModelCard,
  ModelVersion,
  NewApiToken,
  NewDeploymentKey,
  NewJob,
  Page,
  Prediction,
  RegisteredModel,
  RowsPage,
  TokenScope,
  VersionRequest,
} from "./types";

export type * from "./types";

/** Every error answer's body (docs/api.md, Errors): a machine-readable `code`, a readable
 * `detail` (which already names the fields), and the messages per request field. */
export interface ApiErrorBody {
  code: string;
  detail: string;
  fields: Record<string, string[]>;
  /** The predictor's: the input column an error is about. */
  field?: string;
}

function isErrorBody(body: unknown): body is ApiErrorBody {
  const b = body as Record<string, unknown> | null;
  return !!b && typeof b === "object" && typeof b.code === "string" && typeof b.detail === "string";
}

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

  /** The error's machine-readable code ("invalid", "conflict", "throttled", ...). */
  get code(): string {
    return isErrorBody(this.body) ? this.body.code : `http_${this.status}`;
  }

  /** The messages about one request field, if the server named it. */
  fieldErrors(name: string): string[] {
    return isErrorBody(this.body) ? (this.body.fields[name] ?? []) : [];
  }
}

/** The object is not there (or not this user's: the API does not say which). */
export function isNotFound(err: unknown): boolean {
  return err instanceof ApiError && err.status === 404;
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

// Field names whose messages read well on their own ("file": the upload could not be read).
const BARE_FIELDS = new Set(["non_field_errors", "file", "size"]);

export function errorMessage(status: number, body: unknown): string {
  if (isErrorBody(body)) {
    return typeof body.field === "string" ? `${body.detail} (column: ${body.field})` : body.detail;
  }
  // Bodies from before the one error format (a proxy's, say): read as well as can be.
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
      return BARE_FIELDS.has(key) ? text : `${key}: ${text}`;
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
  const data = await readBody(res);
  if (!res.ok) {
    if (signedOut(res.status, data)) toSignIn();
    throw new ApiError(res.status, data, errorMessage(res.status, data));
  }
  return data as T;
}

/** The session ended (expired, or signed out in another tab): the API says who we are not. */
function signedOut(status: number, body: unknown): boolean {
  return status === 401 || (status === 403 && isErrorBody(body) && body.code === "not_authenticated");
}

/** To the sign-in page, coming back to this very page after (the part after # never reaches
 * the server, so it travels in `next`). */
export function toSignIn(): void {
  location.assign(`/login/?next=${encodeURIComponent("/" + location.hash)}`);
}

/** The JSON body of an answer: undefined when empty, null when not JSON. */
export async function readBody(res: Response): Promise<unknown> {
  const text = res.status === 204 ? "" : await res.text();
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return null; // an HTML error page from a proxy or Django's debug view
  }
}

const get = <T>(path: string, signal?: AbortSignal) => request<T>("GET", path, { signal });
const post = <T>(path: string, json: unknown, signal?: AbortSignal) => request<T>("POST", path, { json, signal });
const enc = (v: Id) => encodeURIComponent(String(v));
export const datasetPath = (id: Id) => `/api/v1/datasets/${enc(id)}/`;
/** The tus 1.0 creation endpoint of resumable uploads (docs/api.md, "Resumable uploads"). */
export const UPLOADS_PATH = "/api/v1/uploads/";

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
  dataset: (id: Id, signal?: AbortSignal) => get<Dataset>(datasetPath(id), signal),
  /** Turns a finished resumable upload into a dataset (200 with `existing` for a known file). */
  createDataset: (upload: string, options: DatasetOptions, signal?: AbortSignal) =>
    post<Dataset>("/api/v1/datasets/", { upload, ...options }, signal),
  datasetRows: (id: Id, offset: number, limit: number, signal?: AbortSignal) =>
    get<RowsPage>(`${datasetPath(id)}rows/?offset=${offset}&limit=${limit}`, signal),
  datasetVersions: (id: Id, signal?: AbortSignal) => listAll<Dataset>(`${datasetPath(id)}versions/`, signal),
  createVersion: (id: Id, changes: VersionRequest, signal?: AbortSignal) =>
    post<Dataset>(`${datasetPath(id)}versions/`, changes, signal),
  exportUrl: (id: Id) => `${datasetPath(id)}export/`,

  jobs: (signal?: AbortSignal) => listAll<Job>("/api/v1/jobs/", signal),
  job: (id: Id, signal?: AbortSignal) => get<Job>(`/api/v1/jobs/${enc(id)}/`, signal),
  createJob: (job: NewJob, signal?: AbortSignal) => post<Job>("/api/v1/jobs/", job, signal),
  jobBudgets: (signal?: AbortSignal) => get<Budgets>("/api/v1/jobs/budgets/", signal),
  /** 202 with the job; 409 when it has already finished. keepBest: stop and keep the best model so far. */
  cancelJob: (id: Id, signal?: AbortSignal, keepBest = false) =>
    post<Job>(`/api/v1/jobs/${enc(id)}/cancel/`, keepBest ? { keep_best: true } : {}, signal),

  models: (signal?: AbortSignal) => listAll<RegisteredModel>("/api/v1/models/", signal),
  model: (id: Id, signal?: AbortSignal) => get<RegisteredModel>(`/api/v1/models/${enc(id)}/`, signal),
  modelVersion: (id: Id, signal?: AbortSignal) => get<ModelVersion>(`/api/v1/model-versions/${enc(id)}/`, signal),
  /** 201 with the deployment; 409 with `existing` when it is already deployed and no name is given. */
  deploy: (versionId: Id, signal?: AbortSignal, name?: string) =>
    post<Deployment>(`/api/v1/model-versions/${enc(versionId)}/deploy/`, name ? { name } : {}, signal),
  updateModel: (modelId: Id, changes: { description?: string; tags?: string[] }, signal?: AbortSignal) =>
    request<RegisteredModel>("PATCH", `/api/v1/models/${enc(modelId)}/`, { json: changes, signal }),
  modelVersions: (modelId: Id, signal?: AbortSignal) =>
    listAll<ModelVersion>(`/api/v1/model-versions/?model=${enc(modelId)}`, signal),
  modelAudit: (modelId: Id, signal?: AbortSignal) =>
    listAll<AuditEvent>(`/api/v1/models/${enc(modelId)}/audit/`, signal),
  moveAlias: (modelId: Id, alias: string, versionId: Id, signal?: AbortSignal) =>
    request<Alias>("PUT", `/api/v1/models/${enc(modelId)}/aliases/${enc(alias)}/`, { json: { version: versionId }, signal }),
  archiveVersion: (versionId: Id, archived: boolean, signal?: AbortSignal) =>
    post<ModelVersion>(`/api/v1/model-versions/${enc(versionId)}/archive/`, { archived }, signal),
  modelCard: (versionId: Id, signal?: AbortSignal) => get<ModelCard>(`/api/v1/model-versions/${enc(versionId)}/card/`, signal),
  saveModelCard: (versionId: Id, markdown: string, signal?: AbortSignal) =>
    request<ModelCard>("PUT", `/api/v1/model-versions/${enc(versionId)}/card/`, { json: { markdown }, signal }),
  compare: (a: Id, b: Id, signal?: AbortSignal) =>
    get<Comparison>(`/api/v1/model-versions/compare/?a=${enc(a)}&b=${enc(b)}`, signal),
  artifactUrl: (versionId: Id) => `/api/v1/model-versions/${enc(versionId)}/artifact/`,
  onnxUrl: (versionId: Id) => `/api/v1/model-versions/${enc(versionId)}/export/?format=onnx`,
  undeploy: (name: string, signal?: AbortSignal) =>
    post<Deployment>(`/api/v1/deployments/${enc(name)}/undeploy/`, {}, signal),
  deleteDeployment: (name: string, signal?: AbortSignal) =>
    request<undefined>("DELETE", `/api/v1/deployments/${enc(name)}/`, { signal }),

  deployments: (signal?: AbortSignal) => listAll<Deployment>("/api/v1/deployments/", signal),
  deployment: (name: string, signal?: AbortSignal) => get<Deployment>(`/api/v1/deployments/${enc(name)}/`, signal),
  tokens: (signal?: AbortSignal) => listAll<ApiToken>("/api/v1/auth/tokens/", signal),
  createToken: (name: string, scope: TokenScope, expiresAt: string | null, signal?: AbortSignal) =>
    post<NewApiToken>("/api/v1/auth/tokens/", { name, scope, expires_at: expiresAt }, signal),
  revokeToken: (id: Id, signal?: AbortSignal) => request<undefined>("DELETE", `/api/v1/auth/tokens/${enc(id)}/`, { signal }),

  /** The last `minutes` of traffic, by the minute, summed across the predictor replicas. */
  deploymentTraffic: (name: string, minutes: number, signal?: AbortSignal) =>
    get<DeploymentTraffic>(
      `/api/v1/deployments/${enc(name)}/metrics/?step=60&since=${enc(new Date(Date.now() - minutes * 60_000).toISOString())}`,
      signal,
    ),
  deploymentKeys: (name: string, signal?: AbortSignal) =>
    get<DeploymentKey[]>(`/api/v1/deployments/${enc(name)}/keys/`, signal),
  createDeploymentKey: (
    name: string,
    body: { name: string; expires_at: string | null; rate_limit_per_minute: number | null },
    signal?: AbortSignal,
  ) => post<NewDeploymentKey>(`/api/v1/deployments/${enc(name)}/keys/`, body, signal),
  revokeDeploymentKey: (name: string, id: Id, signal?: AbortSignal) =>
    request<undefined>("DELETE", `/api/v1/deployments/${enc(name)}/keys/${enc(id)}/`, { signal }),

  predict: (name: string, instances: Instance[], signal?: AbortSignal) =>
    post<{ predictions: Prediction[] }>(`/api/v1/deployments/${enc(name)}/predict/`, { instances }, signal),
};

/** `/ws/jobs/<id>/`, `/ws/datasets/<id>/` or `/ws/deployments/<name>/` on this host. */
export function socketUrl(topic: "jobs" | "datasets" | "deployments", id: Id | string): string {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/ws/${topic}/${enc(id)}/`;
}
