import { jobSocketUrl, type Id, type JobEvent } from "./api";

export type SocketState = "connecting" | "live" | "closed";

export interface JobSocketHandlers {
  onEvent(ev: JobEvent): void;
  onState(state: SocketState): void;
  /** Called when the server refuses us (4401 anonymous, 4403 not the owner); no retry follows. */
  onRefused(code: number): void;
  /** Called after an unexpected close; return false to stop reconnecting (job finished). */
  onDropped(): boolean;
  /** Checked again right before reconnecting, since the job may finish while we wait. */
  shouldReconnect(): boolean;
}

const MAX_BACKOFF_MS = 10_000;

/**
 * Follows a job's event stream, reconnecting with exponential backoff. The server replays every
 * event on connect, so callers must dedupe by `seq`.
 */
export function followJob(id: Id, signal: AbortSignal, handlers: JobSocketHandlers): void {
  let socket: WebSocket | null = null;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let attempt = 0;

  function connect(): void {
    if (signal.aborted) return;
    handlers.onState("connecting");
    const ws = new WebSocket(jobSocketUrl(id));
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
        if (ev && typeof ev === "object" && "kind" in ev) handlers.onEvent(ev as JobEvent);
      }
    });
    ws.addEventListener("close", (ev) => {
      if (socket !== ws) return;
      socket = null;
      handlers.onState("closed");
      if (signal.aborted) return;
      if (ev.code === 4401 || ev.code === 4403) {
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
