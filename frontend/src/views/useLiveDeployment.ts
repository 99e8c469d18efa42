import { useEffect, useState } from "react";
import { ApiError, api, type Deployment } from "../api";
import { followDeployment } from "../jobSocket";

// Only while the socket is down (refused, dropped, or never opened): it pushes every change.
const POLL_MS = 1000;

/**
 * A deployment as it changes: pushed over its websocket, and asked for every second only while
 * the socket is down and the deployment is still PENDING or LOADING. `show` lets an action
 * (undeploy) put its answer on screen at once.
 */
export function useLiveDeployment(
  name: string,
  first: Deployment,
): { deployment: Deployment; error: unknown; show: (d: Deployment) => void; clearError: () => void } {
  const [deployment, setDeployment] = useState(first);
  const [error, setError] = useState<unknown>(undefined);

  useEffect(() => {
    const controller = new AbortController();
    const { signal } = controller;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let polling = false;
    let live = false;

    async function poll(): Promise<void> {
      let next = true;
      try {
        const d = await api.deployment(name, signal);
        if (live || signal.aborted) return; // the socket came back meanwhile and is newer
        setError(undefined);
        setDeployment(d);
        next = d.status === "PENDING" || d.status === "LOADING";
      } catch (err) {
        if (signal.aborted) return;
        setError(err);
        // A missing deployment will not appear by waiting.
        next = !(err instanceof ApiError && err.status === 404);
      }
      if (next && !live && !signal.aborted) timer = setTimeout(() => void poll(), POLL_MS);
      else polling = false;
    }

    function fallBackToPolling(): void {
      if (polling || live || signal.aborted) return;
      polling = true;
      timer = setTimeout(() => void poll(), POLL_MS);
    }

    followDeployment(name, signal, {
      onEvent(ev) {
        if (ev.kind !== "deployment" || signal.aborted) return;
        setError(undefined);
        setDeployment(ev.deployment);
      },
      onState(state) {
        live = state === "live";
        if (live) {
          clearTimeout(timer);
          polling = false;
        }
      },
      onRefused(code) {
        if (code === 4404) {
          setError(new Error("This deployment no longer exists, or you may no longer see it."));
          return;
        }
        fallBackToPolling();
      },
      onDropped() {
        fallBackToPolling();
        return true;
      },
      shouldReconnect: () => !signal.aborted,
    });
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [name]);

  return { deployment, error, show: setDeployment, clearError: () => setError(undefined) };
}
