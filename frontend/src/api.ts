// Typed calls to the REST API in docs/api.md. Everything is same-origin with the session cookie.
// Each call goes through openapi-fetch with the paths of src/generated/openapi.d.ts (generated from
// docs/openapi.yaml), so a path, parameter or body field the server no longer has is a tsc error.

import createClient, { type Middleware } from "openapi-fetch";
import type { paths } from "./generated/openapi";
import type {
  Alias,
  ApiToken,
  AuditEvent,
  Budgets,
  Comparison,
  Dataset,
  DatasetCreated,
  DatasetListItem,
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
  PredictResponse,
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

/** The session's part of every call: the CSRF header on anything but a GET, and an error answer
 * thrown as an ApiError (to the sign-in page first when signed out) before openapi-fetch reads it. */
const session: Middleware = {
  onRequest({ request }) {
    if (request.method !== "GET") request.headers.set("X-CSRFToken", csrfToken());
    return undefined;
  },
  async onResponse({ response }) {
    if (response.ok) return undefined;
    const data = await readBody(response);
    if (signedOut(response.status, data)) toSignIn();
    throw new ApiError(response.status, data, errorMessage(response.status, data));
  },
};

const client = createClient<paths>({ headers: { Accept: "application/json" }, credentials: "same-origin" });
client.use(session);

/** Where `T` may stand for an answer the schema types as `D`: it says the same fields, some of
 * them more exactly (see types.ts). Else the call site lacks an impossible argument, which tsc
 * reports by its name. */
type Fits<T, D> = [T] extends [D] ? ([keyof T] extends [keyof D] ? [] : [never]) : [never];

/**
 * `read<T>()(call)`: the answer of a typed call as `T`, which tsc checks against what the schema
 * says the path answers. (Error answers never get here: `session` throws them.)
 */
function read<T>() {
  return async <D>(
    pending: Promise<{ data?: D }>,
    ..._type_read_is_not_the_schemas_answer: Fits<T, NonNullable<D>>
  ): Promise<T> => (await pending).data as T;
}

/** An answer without a body (a 204): nothing to read, only to wait for. */
async function done(pending: Promise<unknown>): Promise<void> {
  await pending;
}

/** An id where the schema types it a number. Ids from the page's address are digits as text,
 * and either serialises the same into a path or query, so it goes as it came. */
const pid = (id: Id) => id as number;

type ParamNames<P> = P extends `${string}{${infer N}}${infer Rest}` ? N | ParamNames<Rest> : never;

/** A link (a download, an export) to one of the schema's paths, with its `{…}` filled in. */
function href<P extends keyof paths>(path: P, params: Record<ParamNames<P>, Id>, query = ""): string {
  const filled = path.replace(/\{(\w+)\}/g, (_, name: string) => enc(params[name as ParamNames<P>]));
  return query ? `${filled}?${query}` : filled;
}

const enc = (v: Id) => encodeURIComponent(String(v));
export const datasetPath = (id: Id) => href("/api/v1/datasets/{id}/", { id });
/** The tus 1.0 creation endpoint of resumable uploads (docs/api.md, "Resumable uploads"). */
export const UPLOADS_PATH = "/api/v1/uploads/" satisfies keyof paths;

/** A page of a cursor-paginated list. */
interface Page<T> {
  next?: string | null;
  results: T[];
}

/**
 * Every item of a list, following its `next` links (up to 100 pages). `page` fetches one page
 * given the cursor of the `next` link (undefined for the first); the other parameters of a
 * `next` link are the request's own, which `page` sends again.
 */
async function listAll<T>(page: (cursor?: string) => Promise<{ data?: Page<T> }>): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 100; pages++) {
    const { data } = await page(cursor);
    if (!data) break;
    out.push(...data.results);
    const next = data.next ? new URL(data.next, location.href).searchParams.get("cursor") : null;
    if (next === null) break;
    cursor = next;
  }
  return out;
}

/** Items of `listAll` as the UI reads them: `T`, which tsc checks against the schema's item. */
function listOf<T>() {
  return async <D>(
    page: (cursor?: string) => Promise<{ data?: Page<D> }>,
    ..._type_read_is_not_the_schemas_answer: Fits<T, D>
  ): Promise<T[]> => (await listAll(page)) as unknown as T[];
}

/** What a list page asks of its list, all optional: a part of the name (the dataset's name or
 * the target, for jobs), one status, and the API's `ordering` ("-created_at", "name", …). */
export interface ListQuery {
  search?: string;
  status?: string;
  ordering?: string;
}

/** A list's status filter as the schema types it; the UI offers only the statuses it shows. */
const status = <T extends { status: string }>(q: ListQuery) => (q.status || undefined) as T["status"] | undefined;

export const api = {
  me: (signal?: AbortSignal) => read<Me>()(client.GET("/api/v1/auth/me/", { signal })),

  datasets: (signal?: AbortSignal, q: ListQuery = {}) =>
    listOf<DatasetListItem>()((cursor?: string) =>
      client.GET("/api/v1/datasets/", {
        params: { query: { cursor, name: q.search || undefined, status: status<DatasetListItem>(q), ordering: q.ordering || undefined } },
        signal,
      }),
    ),
  dataset: (id: Id, signal?: AbortSignal) =>
    read<Dataset>()(client.GET("/api/v1/datasets/{id}/", { params: { path: { id: pid(id) } }, signal })),
  /** Turns a finished resumable upload into a dataset (200 with `existing` for a known file). */
  createDataset: (upload: string, options: DatasetOptions, signal?: AbortSignal) =>
    read<DatasetCreated>()(client.POST("/api/v1/datasets/", { body: { upload, ...options }, signal })),
  datasetRows: (id: Id, offset: number, limit: number, signal?: AbortSignal) =>
    read<RowsPage>()(
      client.GET("/api/v1/datasets/{id}/rows/", { params: { path: { id: pid(id) }, query: { offset, limit } }, signal }),
    ),
  datasetVersions: (id: Id, signal?: AbortSignal) =>
    read<DatasetListItem[]>()(client.GET("/api/v1/datasets/{id}/versions/", { params: { path: { id: pid(id) } }, signal })),
  createVersion: (id: Id, changes: VersionRequest, signal?: AbortSignal) =>
    read<DatasetCreated>()(client.POST("/api/v1/datasets/{id}/versions/", { params: { path: { id: pid(id) } }, body: changes, signal })),
  exportUrl: (id: Id) => href("/api/v1/datasets/{id}/export/", { id }),

  /** `q.search` matches part of a job's dataset name or target. */
  jobs: (signal?: AbortSignal, q: ListQuery = {}) =>
    listOf<Job>()((cursor?: string) =>
      client.GET("/api/v1/jobs/", {
        params: { query: { cursor, search: q.search || undefined, status: status<Job>(q), ordering: q.ordering || undefined } },
        signal,
      }),
    ),
  job: (id: Id, signal?: AbortSignal) =>
    read<Job>()(client.GET("/api/v1/jobs/{id}/", { params: { path: { id: pid(id) } }, signal })),
  createJob: (job: NewJob, signal?: AbortSignal) => read<Job>()(client.POST("/api/v1/jobs/", { body: job, signal })),
  jobBudgets: (signal?: AbortSignal) => read<Budgets>()(client.GET("/api/v1/jobs/budgets/", { signal })),
  /** 202 with the job; 409 when it has already finished. keepBest: stop and keep the best model so far. */
  cancelJob: (id: Id, signal?: AbortSignal, keepBest = false) =>
    read<Job>()(
      client.POST("/api/v1/jobs/{id}/cancel/", {
        params: { path: { id: pid(id) } },
        body: keepBest ? { keep_best: true } : {},
        signal,
      }),
    ),

  models: (signal?: AbortSignal, q: ListQuery = {}) =>
    listOf<RegisteredModel>()((cursor?: string) =>
      client.GET("/api/v1/models/", {
        params: { query: { cursor, name: q.search || undefined, ordering: q.ordering || undefined } },
        signal,
      }),
    ),
  model: (id: Id, signal?: AbortSignal) =>
    read<RegisteredModel>()(client.GET("/api/v1/models/{id}/", { params: { path: { id: pid(id) } }, signal })),
  modelVersion: (id: Id, signal?: AbortSignal) =>
    read<ModelVersion>()(client.GET("/api/v1/model-versions/{id}/", { params: { path: { id: pid(id) } }, signal })),
  /** 201 with the deployment; 409 with `existing` when it is already deployed and no name is given. */
  deploy: (versionId: Id, signal?: AbortSignal, name?: string) =>
    read<Deployment>()(
      client.POST("/api/v1/model-versions/{id}/deploy/", {
        params: { path: { id: pid(versionId) } },
        body: name ? { name } : {},
        signal,
      }),
    ),
  updateModel: (modelId: Id, changes: { description?: string; tags?: string[] }, signal?: AbortSignal) =>
    read<RegisteredModel>()(client.PATCH("/api/v1/models/{id}/", { params: { path: { id: pid(modelId) } }, body: changes, signal })),
  modelVersions: (modelId: Id, signal?: AbortSignal) =>
    listOf<ModelVersion>()((cursor?: string) =>
      client.GET("/api/v1/model-versions/", { params: { query: { model: pid(modelId), cursor } }, signal }),
    ),
  modelAudit: (modelId: Id, signal?: AbortSignal) =>
    listOf<AuditEvent>()((cursor?: string) =>
      client.GET("/api/v1/models/{id}/audit/", { params: { path: { id: pid(modelId) }, query: { cursor } }, signal }),
    ),
  moveAlias: (modelId: Id, alias: string, versionId: Id, signal?: AbortSignal) =>
    read<Alias>()(
      client.PUT("/api/v1/models/{id}/aliases/{alias}/", {
        params: { path: { id: pid(modelId), alias } },
        body: { version: pid(versionId) },
        signal,
      }),
    ),
  archiveVersion: (versionId: Id, archived: boolean, signal?: AbortSignal) =>
    read<ModelVersion>()(
      client.POST("/api/v1/model-versions/{id}/archive/", { params: { path: { id: pid(versionId) } }, body: { archived }, signal }),
    ),
  modelCard: (versionId: Id, signal?: AbortSignal) =>
    read<ModelCard>()(client.GET("/api/v1/model-versions/{id}/card/", { params: { path: { id: pid(versionId) } }, signal })),
  saveModelCard: (versionId: Id, markdown: string, signal?: AbortSignal) =>
    read<ModelCard>()(
      client.PUT("/api/v1/model-versions/{id}/card/", { params: { path: { id: pid(versionId) } }, body: { markdown }, signal }),
    ),
  compare: (a: Id, b: Id, signal?: AbortSignal) =>
    read<Comparison>()(client.GET("/api/v1/model-versions/compare/", { params: { query: { a: pid(a), b: pid(b) } }, signal })),
  artifactUrl: (versionId: Id) => href("/api/v1/model-versions/{id}/artifact/", { id: versionId }),
  onnxUrl: (versionId: Id) => href("/api/v1/model-versions/{id}/export/", { id: versionId }, "format=onnx"),
  undeploy: (name: string, signal?: AbortSignal) =>
    read<Deployment>()(client.POST("/api/v1/deployments/{name}/undeploy/", {
        params: { path: { name } },
        signal,
      })),
  /** Serve `versionId` (a version of the same model) instead; the predictor swaps once warm. */
  swapDeployment: (name: string, versionId: Id, signal?: AbortSignal) =>
    read<Deployment>()(
      client.POST("/api/v1/deployments/{name}/swap/", { params: { path: { name } }, body: { version: pid(versionId) }, signal }),
    ),
  /** Let `versionId` answer `percent` of the requests beside the main version. */
  setCanary: (name: string, versionId: Id, percent: number, signal?: AbortSignal) =>
    read<Deployment>()(
      client.POST("/api/v1/deployments/{name}/canary/", {
        params: { path: { name } },
        body: { version: pid(versionId), percent },
        signal,
      }),
    ),
  promoteCanary: (name: string, signal?: AbortSignal) =>
    read<Deployment>()(client.POST("/api/v1/deployments/{name}/promote/", { params: { path: { name } }, signal })),
  rollbackCanary: (name: string, signal?: AbortSignal) =>
    read<Deployment>()(client.POST("/api/v1/deployments/{name}/rollback/", { params: { path: { name } }, signal })),
  deleteDeployment: (name: string, signal?: AbortSignal) =>
    done(client.DELETE("/api/v1/deployments/{name}/", { params: { path: { name } }, signal })),

  deployments: (signal?: AbortSignal, q: ListQuery = {}) =>
    listOf<Deployment>()((cursor?: string) =>
      client.GET("/api/v1/deployments/", {
        params: { query: { cursor, name: q.search || undefined, status: status<Deployment>(q), ordering: q.ordering || undefined } },
        signal,
      }),
    ),
  deployment: (name: string, signal?: AbortSignal) =>
    read<Deployment>()(client.GET("/api/v1/deployments/{name}/", { params: { path: { name } }, signal })),
  tokens: (signal?: AbortSignal) =>
    listOf<ApiToken>()((cursor?: string) => client.GET("/api/v1/auth/tokens/", { params: { query: { cursor } }, signal })),
  createToken: (name: string, scope: TokenScope, expiresAt: string | null, signal?: AbortSignal) =>
    read<NewApiToken>()(client.POST("/api/v1/auth/tokens/", { body: { name, scope, expires_at: expiresAt }, signal })),
  revokeToken: (id: Id, signal?: AbortSignal) =>
    done(client.DELETE("/api/v1/auth/tokens/{id}/", { params: { path: { id: pid(id) } }, signal })),

  /** The last `minutes` of traffic, by the minute, summed across the predictor replicas. */
  deploymentTraffic: (name: string, minutes: number, signal?: AbortSignal) =>
    read<DeploymentTraffic>()(
      client.GET("/api/v1/deployments/{name}/metrics/", {
        params: { path: { name }, query: { step: 60, since: new Date(Date.now() - minutes * 60_000).toISOString() } },
        signal,
      }),
    ),
  deploymentKeys: (name: string, signal?: AbortSignal) =>
    read<DeploymentKey[]>()(client.GET("/api/v1/deployments/{name}/keys/", { params: { path: { name } }, signal })),
  createDeploymentKey: (
    name: string,
    body: { name: string; expires_at: string | null; rate_limit_per_minute: number | null },
    signal?: AbortSignal,
  ) => read<NewDeploymentKey>()(client.POST("/api/v1/deployments/{name}/keys/", { params: { path: { name } }, body, signal })),
  revokeDeploymentKey: (name: string, id: Id, signal?: AbortSignal) =>
    done(
      client.DELETE("/api/v1/deployments/{name}/keys/{key_id}/", { params: { path: { name, key_id: pid(id) } }, signal }),
    ),

  predict: (name: string, instances: Instance[], signal?: AbortSignal) =>
    read<PredictResponse>()(client.POST("/api/v1/deployments/{name}/predict/", { params: { path: { name } }, body: { instances }, signal })),
};

/** `/ws/jobs/<id>/`, `/ws/datasets/<id>/` or `/ws/deployments/<name>/` on this host. */
export function socketUrl(topic: "jobs" | "datasets" | "deployments", id: Id | string): string {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/ws/${topic}/${enc(id)}/`;
}
