import { socketUrl, type DatasetEvent, type DeploymentEvent, type Id, type JobEvent } from "./api";

export type SocketState = "connecting" | "live" | "closed";

export interface SocketHandlers<E> {
  onEvent(ev: E): void;
  onState(state: SocketState): void;
  /** Called when the server refuses us (4401 anonymous, 4403 not allowed, 4404 not found or
   * deleted, 4409 ambiguous name); no retry follows. */
  onRefused(code: number): void;
  /** Called after an unexpected close; return false to stop reconnecting (job or profiling finished). */
  onDropped(): boolean;
  /** Checked again right before reconnecting, since the job may finish while we wait. */
  shouldReconnect(): boolean;
}

export type JobSocketHandlers = SocketHandlers<JobEvent>;

const MAX_BACKOFF_MS = 10_000;

/** Follows a job's events (`/ws/jobs/<id>/`). */
export function followJob(id: Id, signal: AbortSignal, handlers: SocketHandlers<JobEvent>): void {
  followEvents(socketUrl("jobs", id), signal, handlers);
}

/** Follows a dataset's profiling events (`/ws/datasets/<id>/`). */
export function followDataset(id: Id, signal: AbortSignal, handlers: SocketHandlers<DatasetEvent>): void {
  followEvents(socketUrl("datasets", id), signal, handlers);
}

/** Follows a deployment's state (`/ws/deployments/<name>/`): the current state, then changes. */
export function followDeployment(name: string, signal: AbortSignal, handlers: SocketHandlers<DeploymentEvent>): void {
  followEvents(socketUrl("deployments", name), signal, handlers);
}

const REFUSED = new Set([4401, 4403, 4404, 4409]);

/**
 * Follows an event stream, reconnecting with exponential backoff. The server replays every
 * event on connect, so callers must dedupe by `seq`.
 */
export function followEvents<E extends { kind: string }>(
  url: string,
  signal: AbortSignal,
  handlers: SocketHandlers<E>,
): void {
  let socket: WebSocket | null = null;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let attempt = 0;

  function connect(): void {
    if (signal.aborted) return;
    handlers.onState("connecting");
    const ws = new WebSocket(url);
    socket = ws;
    ws.addEventListener("open", () => {
      attempt = 0;
      handlers.onState("live");
    });
    ws.addEventListener("message", (msg) => {
      let data: unknown;
      try {
        data = JSON.parse(String(msg.data));
      } catch {
        return;
      }
      for (const ev of Array.isArray(data) ? data : [data]) {
        if (ev && typeof ev === "object" && "kind" in ev) handlers.onEvent(ev as E);
      }
    });
    ws.addEventListener("close", (ev) => {
      if (socket !== ws) return;
      socket = null;
      handlers.onState("closed");
      if (signal.aborted) return;
      if (REFUSED.has(ev.code)) {
        handlers.onRefused(ev.code);
        return;
      }
      if (!handlers.onDropped()) return;
      const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** attempt++);
      retryTimer = setTimeout(() => {
        if (handlers.shouldReconnect()) connect();
      }, delay);
    });
  }

  signal.addEventListener("abort", () => {
    clearTimeout(retryTimer);
    const ws = socket;
    socket = null;
    ws?.close();
  });

  connect();
}
